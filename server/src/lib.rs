//! treff server
