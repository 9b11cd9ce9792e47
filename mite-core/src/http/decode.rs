//! Transparent decompression of response bodies, as curl does with the encodings it offers.

use std::io::Read;

use bytes::Bytes;

/// The `Accept-Encoding` we send.
pub const ACCEPT_ENCODING: &str = "gzip, deflate";

/// Decodes `body` per a `Content-Encoding` value; unknown encodings are left as they are.
pub fn decode(encoding: Option<&str>, body: Bytes) -> std::io::Result<Bytes> {
    let Some(encoding) = encoding.map(|e| e.trim().to_ascii_lowercase()) else {
        return Ok(body);
    };
    let mut out = Vec::new();
    match encoding.as_str() {
        "gzip" | "x-gzip" => {
            flate2::read::MultiGzDecoder::new(body.as_ref()).read_to_end(&mut out)?;
        }
        "deflate" => {
            // Servers send either zlib-wrapped or raw deflate under this name.
            if flate2::read::ZlibDecoder::new(body.as_ref())
                .read_to_end(&mut out)
                .is_err()
            {
                out.clear();
                flate2::read::DeflateDecoder::new(body.as_ref()).read_to_end(&mut out)?;
            }
        }
        _ => return Ok(body),
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn gzip_and_deflate_bodies_are_decoded() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"hello").unwrap();
        let body = Bytes::from(gz.finish().unwrap());
        assert_eq!(
            decode(Some("gzip"), body).unwrap(),
            Bytes::from_static(b"hello")
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"world").unwrap();
        let body = Bytes::from(z.finish().unwrap());
        assert_eq!(
            decode(Some("deflate"), body).unwrap(),
            Bytes::from_static(b"world")
        );
        assert_eq!(
            decode(Some("br"), Bytes::from_static(b"x")).unwrap(),
            Bytes::from_static(b"x")
        );
        assert_eq!(
            decode(None, Bytes::from_static(b"x")).unwrap(),
            Bytes::from_static(b"x")
        );
    }
}
