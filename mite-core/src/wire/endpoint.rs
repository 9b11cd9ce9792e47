//! ZeroMQ endpoints as mite's options give them (`tcp://127.0.0.1:14302`), checked before
//! libzmq sees them so a typo is one clear line rather than libzmq's "Invalid argument".

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EndpointError {
    #[error("{0:?} is not a ZeroMQ address (tcp://HOST:PORT, ipc://PATH or inproc://NAME)")]
    Scheme(String),
    #[error("{0:?}: a tcp address needs HOST:PORT with a port number (or * to bind any)")]
    TcpPort(String),
    #[error("{0:?}: the address is empty after the scheme")]
    Empty(String),
}

/// Checks `address` is one libzmq can bind or connect: `tcp://HOST:PORT` (PORT may be `*`
/// when binding), `ipc://PATH`, `inproc://NAME`.
pub fn check_endpoint(address: &str) -> Result<(), EndpointError> {
    let (scheme, rest) = address
        .split_once("://")
        .ok_or_else(|| EndpointError::Scheme(address.to_owned()))?;
    if rest.is_empty() {
        return Err(EndpointError::Empty(address.to_owned()));
    }
    match scheme {
        "tcp" => {
            let port = rest
                .rsplit_once(':')
                .map(|(_, port)| port)
                .ok_or_else(|| EndpointError::TcpPort(address.to_owned()))?;
            if port == "*" || port.parse::<u16>().is_ok() {
                Ok(())
            } else {
                Err(EndpointError::TcpPort(address.to_owned()))
            }
        }
        "ipc" | "inproc" => Ok(()),
        _ => Err(EndpointError::Scheme(address.to_owned())),
    }
}
