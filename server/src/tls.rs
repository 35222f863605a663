//! TLS with openssl: loads the certificate and key given on the command line.

use std::path::{Path, PathBuf};

use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod};

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate chain file is missing or not PEM.
    #[error("cannot read the TLS certificate {path}: {source}")]
    Certificate {
        /// The file given with --tls-cert.
        path: PathBuf,
        /// What openssl said.
        source: openssl::error::ErrorStack,
    },
    /// The key file is missing, not PEM, or does not match the certificate.
    #[error("cannot use the TLS key {path}: {source}")]
    Key {
        /// The file given with --tls-key.
        path: PathBuf,
        /// What openssl said.
        source: openssl::error::ErrorStack,
    },
    /// openssl could not set up a server context at all.
    #[error("cannot set up TLS: {0}")]
    Setup(#[from] openssl::error::ErrorStack),
}

/// An acceptor with Mozilla's intermediate settings for `cert` and `key` (PEM files).
pub fn acceptor(cert: &Path, key: &Path) -> Result<SslAcceptorBuilder, TlsError> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    builder
        .set_certificate_chain_file(cert)
        .map_err(|source| TlsError::Certificate {
            path: cert.to_owned(),
            source,
        })?;
    builder
        .set_private_key_file(key, SslFiletype::PEM)
        .and_then(|()| builder.check_private_key())
        .map_err(|source| TlsError::Key {
            path: key.to_owned(),
            source,
        })?;
    Ok(builder)
}
