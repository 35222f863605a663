//! treff web app (being built).
