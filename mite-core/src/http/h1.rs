//! A lean HTTP/1.1 client connection: the request future owns the connection while it uses
//! it, writes the request with one write and parses the response with `httparse` from its
//! own buffer. No connection task, no channels: per request this does what wrk does, which
//! is most of the difference between a pooled general-purpose client and a load generator.
//! (HTTP/2 connections use hyper.)

use std::io;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connector::RawStream;
use super::request::RequestHeaders;

/// Bodies above this are written separately instead of being copied next to the head.
const INLINE_BODY: usize = 16 * 1024;
/// A response head larger than this is refused (a broken or hostile server).
const MAX_HEAD: usize = 1024 * 1024;
/// Room made for each read. Idle connections, and requests still waiting for their response,
/// keep no buffer at all: a load test may hold thousands of them.
const READ_CHUNK: usize = 4 * 1024;

/// Why an exchange on the connection failed.
#[derive(Debug, thiserror::Error)]
pub enum H1Error {
    /// Nothing at all came back: on a reused connection, the server had closed it, and the
    /// request may be sent again on a new one.
    #[error("the server closed the connection without responding")]
    ClosedBeforeResponse,
    /// Sending failed (e.g. the server had reset the connection): nothing was processed.
    #[error("sending the request failed: {0}")]
    Write(io::Error),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("invalid response: {0}")]
    Invalid(String),
}

/// A response's status line and headers.
pub struct Head {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
}

/// What one exchange produced.
pub struct Received {
    pub head: Head,
    /// The body as sent (still compressed, if it was).
    pub body: Bytes,
    /// When the first byte of the response arrived.
    pub first_byte: Instant,
    /// When its last byte arrived (the read that completed it).
    pub done: Instant,
}

pub struct H1Conn {
    io: RawStream,
    buf: BytesMut,
    /// The connection may carry another request after this one.
    pub reusable: bool,
    /// When the last read of this exchange returned data: a response's timings come from
    /// the reads themselves, with no extra clock reads.
    last_read: Option<Instant>,
}

enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

fn invalid(message: impl Into<String>) -> H1Error {
    H1Error::Invalid(message.into())
}

fn header_has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .to_str()
            .map(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

impl H1Conn {
    pub fn new(io: RawStream) -> Self {
        H1Conn {
            io,
            buf: BytesMut::new(),
            reusable: true,
            last_read: None,
        }
    }

    /// Sends one request and reads the whole response.
    pub async fn exchange(
        &mut self,
        method: &Method,
        target: &str,
        headers: &RequestHeaders,
        body: &Bytes,
    ) -> Result<Received, H1Error> {
        self.reusable = false;
        self.last_read = None;
        self.write_request(method, target, headers, body)
            .await
            .map_err(H1Error::Write)?;
        let (head, first_byte) = self.read_head().await?;
        let framing = self.framing(method, &head)?;
        let body = self.read_body(framing).await?;
        let closes = header_has_token(&head.headers, &http::header::CONNECTION, "close")
            || match headers {
                RequestHeaders::Map(map) => {
                    header_has_token(map, &http::header::CONNECTION, "close")
                }
                // Only `host`, `accept` and `accept-encoding`.
                RequestHeaders::Rendered(_) => false,
            };
        let keeps_alive = match head.version {
            Version::HTTP_11 => !closes,
            _ => {
                header_has_token(&head.headers, &http::header::CONNECTION, "keep-alive") && !closes
            }
        };
        self.reusable = keeps_alive && self.reusable && self.buf.is_empty();
        // Release the buffer (the body may share it) so an idle connection holds no memory.
        self.buf = BytesMut::new();
        let done = self.last_read.unwrap_or_else(Instant::now);
        Ok(Received {
            head,
            body,
            first_byte,
            done,
        })
    }

    async fn write_request(
        &mut self,
        method: &Method,
        target: &str,
        headers: &RequestHeaders,
        body: &Bytes,
    ) -> io::Result<()> {
        let mut out = Vec::with_capacity(256 + body.len().min(INLINE_BODY));
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let has_length = match headers {
            RequestHeaders::Map(map) => {
                for (name, value) in map {
                    out.extend_from_slice(name.as_str().as_bytes());
                    out.extend_from_slice(b": ");
                    out.extend_from_slice(value.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                map.contains_key(http::header::CONTENT_LENGTH)
            }
            RequestHeaders::Rendered(rendered) => {
                out.extend_from_slice(rendered);
                false
            }
        };
        let wants_length =
            !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH);
        if wants_length && !has_length {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(body.len().to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if body.len() <= INLINE_BODY {
            out.extend_from_slice(body);
            self.io.write_all(&out).await?;
        } else {
            self.io.write_all(&out).await?;
            self.io.write_all(body).await?;
        }
        self.io.flush().await
    }

    /// Reads more into the buffer; `Ok(0)` at end of stream.
    async fn fill(&mut self) -> io::Result<usize> {
        self.fill_towards(0).await
    }

    /// Reads more, making room for `wanted` more bytes when that is known (a body's length).
    async fn fill_towards(&mut self, wanted: usize) -> io::Result<usize> {
        if self.buf.capacity() == self.buf.len() {
            // No room yet: wait for the response before taking memory for it, so that
            // thousands of requests waiting on a slow server hold no read buffers.
            self.io.readable().await?;
        }
        self.buf.reserve(wanted.clamp(READ_CHUNK, 1024 * 1024));
        let n = self.io.read_buf(&mut self.buf).await?;
        if n > 0 {
            self.last_read = Some(Instant::now());
        }
        Ok(n)
    }

    async fn read_head(&mut self) -> Result<(Head, Instant), H1Error> {
        let mut first_byte = None;
        loop {
            if !self.buf.is_empty() {
                if let Some(head) = take_head(&mut self.buf)? {
                    // 1xx responses (100 Continue, 103 Early Hints) precede the real one.
                    if head.status.is_informational()
                        && head.status != StatusCode::SWITCHING_PROTOCOLS
                    {
                        continue;
                    }
                    return Ok((head, first_byte.unwrap_or_else(Instant::now)));
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(invalid("response head too large"));
                }
            }
            let n = self.fill().await?;
            if n == 0 {
                return Err(if first_byte.is_none() {
                    H1Error::ClosedBeforeResponse
                } else {
                    invalid("connection closed in the response head")
                });
            }
            if first_byte.is_none() {
                first_byte = self.last_read;
            }
        }
    }

    fn framing(&self, method: &Method, head: &Head) -> Result<Framing, H1Error> {
        let status = head.status.as_u16();
        if *method == Method::HEAD || status == 204 || status == 304 || (100..200).contains(&status)
        {
            return Ok(Framing::Empty);
        }
        if let Some(encoding) = head
            .headers
            .get_all(http::header::TRANSFER_ENCODING)
            .iter()
            .next_back()
        {
            let last = encoding
                .to_str()
                .ok()
                .and_then(|e| e.rsplit(',').next())
                .map(|e| e.trim().to_ascii_lowercase());
            if last.as_deref() == Some("chunked") {
                return Ok(Framing::Chunked);
            }
            return Ok(Framing::UntilClose);
        }
        match head.headers.get(http::header::CONTENT_LENGTH) {
            Some(length) => length
                .to_str()
                .ok()
                .and_then(|l| l.trim().parse::<u64>().ok())
                .map(Framing::Length)
                .ok_or_else(|| invalid("bad content-length")),
            None => Ok(Framing::UntilClose),
        }
    }

    async fn read_body(&mut self, framing: Framing) -> Result<Bytes, H1Error> {
        match framing {
            Framing::Empty => {
                self.reusable = true;
                Ok(Bytes::new())
            }
            Framing::Length(length) => {
                let length = usize::try_from(length).map_err(|_| invalid("body too large"))?;
                while self.buf.len() < length {
                    if self.fill_towards(length - self.buf.len()).await? == 0 {
                        return Err(invalid("connection closed in the body"));
                    }
                }
                self.reusable = true;
                Ok(self.buf.split_to(length).freeze())
            }
            Framing::UntilClose => {
                while self.fill().await? != 0 {}
                Ok(self.buf.split().freeze())
            }
            Framing::Chunked => self.read_chunked().await,
        }
    }

    async fn read_chunked(&mut self) -> Result<Bytes, H1Error> {
        let mut body = BytesMut::new();
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.buf.advance(used);
                        break usize::try_from(size).map_err(|_| invalid("chunk too large"))?;
                    }
                    Ok(httparse::Status::Partial) => {
                        if self.fill().await? == 0 {
                            return Err(invalid("connection closed in a chunk size"));
                        }
                    }
                    Err(_) => return Err(invalid("bad chunk size")),
                }
            };
            if size == 0 {
                // Trailers, if any, end with an empty line.
                loop {
                    if let Some(end) = find_line_end(&self.buf) {
                        let empty = end == 0;
                        self.buf.advance(end + 2);
                        if empty {
                            self.reusable = true;
                            return Ok(body.freeze());
                        }
                    } else if self.fill().await? == 0 {
                        return Err(invalid("connection closed in the trailers"));
                    }
                }
            }
            while self.buf.len() < size + 2 {
                if self.fill().await? == 0 {
                    return Err(invalid("connection closed in a chunk"));
                }
            }
            body.extend_from_slice(&self.buf[..size]);
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(invalid("chunk not followed by CRLF"));
            }
            self.buf.advance(size + 2);
        }
    }
}

fn find_line_end(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// Where one header's name and value lie in a response head.
#[derive(Clone, Copy, Default)]
struct HeaderSpan {
    name: (usize, usize),
    value: (usize, usize),
}

/// Headers a head is parsed for on the stack; larger heads (up to [`MAX_HEADERS`]) use the heap.
const STACK_HEADERS: usize = 64;
/// A response head with more headers than this is refused.
const MAX_HEADERS: usize = 1024;

/// Takes the response head off the front of `buf` once it is complete. Its header values
/// share the head's bytes rather than each being copied into an allocation of its own.
fn take_head(buf: &mut BytesMut) -> Result<Option<Head>, H1Error> {
    let mut storage = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let mut large;
    let mut response = httparse::Response::new(&mut storage);
    let parsed = match response.parse(buf) {
        Err(httparse::Error::TooManyHeaders) => {
            large = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
            response = httparse::Response::new(&mut large);
            response.parse(buf)
        }
        other => other,
    };
    let length = match parsed {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(invalid(e.to_string())),
    };
    let status =
        StatusCode::from_u16(response.code.unwrap_or(0)).map_err(|e| invalid(e.to_string()))?;
    let version = if response.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    // Where each header lies, so that the values can be cut from the head once it is split
    // off the buffer (httparse's slices borrow the buffer).
    let base = buf.as_ptr() as usize;
    let span_of = |part: &[u8]| {
        let start = part.as_ptr() as usize - base;
        (start, start + part.len())
    };
    let count = response.headers.len();
    let mut on_stack = [HeaderSpan::default(); STACK_HEADERS];
    let mut on_heap;
    let spans = if count <= STACK_HEADERS {
        &mut on_stack[..count]
    } else {
        on_heap = vec![HeaderSpan::default(); count];
        &mut on_heap[..]
    };
    for (span, header) in spans.iter_mut().zip(response.headers.iter()) {
        *span = HeaderSpan {
            name: span_of(header.name.as_bytes()),
            value: span_of(header.value),
        };
    }
    let head = buf.split_to(length).freeze();
    let mut headers = HeaderMap::with_capacity(count);
    for span in spans.iter() {
        let name = HeaderName::from_bytes(&head[span.name.0..span.name.1])
            .map_err(|e| invalid(e.to_string()))?;
        let value = head.slice(span.value.0..span.value.1);
        // SAFETY: httparse accepted these bytes as a header value (HTAB, visible ASCII and
        // obs-text), all of which `HeaderValue` allows.
        let value = unsafe { HeaderValue::from_maybe_shared_unchecked(value) };
        headers.append(name, value);
    }
    Ok(Some(Head {
        status,
        version,
        headers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse_with_status_version_and_repeated_headers() {
        let mut raw = BytesMut::from(
            &b"HTTP/1.1 302 Found\r\nLocation: /x\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nrest"[..],
        );
        let head = take_head(&mut raw).unwrap().unwrap();
        assert_eq!(head.status, StatusCode::FOUND);
        assert_eq!(head.version, Version::HTTP_11);
        assert_eq!(head.headers.get_all("set-cookie").iter().count(), 2);
        assert_eq!(&raw[..], b"rest");
        let mut partial = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-"[..]);
        assert!(take_head(&mut partial).unwrap().is_none());
        let mut garbage = BytesMut::from(&b"garbage\r\n\r\n"[..]);
        assert!(take_head(&mut garbage).is_err());
    }

    #[test]
    fn taken_heads_share_their_bytes_and_leave_the_body() {
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Obs: caf\xe9\tok\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nbody"[..],
        );
        let head = take_head(&mut buf).unwrap().unwrap();
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.headers.get("content-length").unwrap(), "4");
        assert_eq!(
            head.headers.get("x-obs").unwrap().as_bytes(),
            b"caf\xe9\tok"
        );
        let cookies: Vec<_> = head.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(&buf[..], b"body");

        let mut partial = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-"[..]);
        assert!(take_head(&mut partial).unwrap().is_none());
        assert_eq!(partial.len(), 25, "a partial head stays in the buffer");

        let many: String = (0..100).map(|i| format!("X-H{i}: {i}\r\n")).collect();
        let mut large = BytesMut::from(format!("HTTP/1.1 204 No Content\r\n{many}\r\n").as_bytes());
        let head = take_head(&mut large).unwrap().unwrap();
        assert_eq!(head.headers.len(), 100);
        assert!(large.is_empty());
        assert!(take_head(&mut BytesMut::from(&b"garbage\r\n\r\n"[..])).is_err());
    }

    /// A server for one connection on 127.0.0.1: it reads the request, then `answer` has the
    /// socket.
    async fn answering<F, Fut>(answer: F) -> std::net::SocketAddr
    where
        F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request).await;
            answer(socket).await;
        });
        addr
    }

    async fn exchange_with(
        response: &'static [u8],
        method: Method,
    ) -> (Result<Received, H1Error>, bool) {
        let addr = answering(move |mut socket| async move {
            socket.write_all(response).await.unwrap();
            // Keep the connection open briefly so "until close" framing is tested on purpose.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        })
        .await;
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut conn = H1Conn::new(RawStream::Plain(stream));
        let received = conn
            .exchange(
                &method,
                "/",
                &RequestHeaders::Map(HeaderMap::new()),
                &Bytes::new(),
            )
            .await;
        (received, conn.reusable)
    }

    #[tokio::test]
    async fn a_request_waiting_for_its_response_holds_no_read_buffer() {
        let (heard_tx, heard_rx) = tokio::sync::oneshot::channel();
        let addr = answering(move |socket| async move {
            let _open = socket;
            let _ = heard_tx.send(());
            // Never answers while the test looks.
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        })
        .await;
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut conn = H1Conn::new(RawStream::Plain(stream));
        let (method, headers, body) = (
            Method::GET,
            RequestHeaders::Map(HeaderMap::new()),
            Bytes::new(),
        );
        {
            let exchange = conn.exchange(&method, "/", &headers, &body);
            tokio::pin!(exchange);
            tokio::select! {
                _ = &mut exchange => panic!("the server never answers"),
                _ = heard_rx => {}
            }
            // Let the exchange reach its wait for the response.
            tokio::select! {
                _ = &mut exchange => panic!("the server never answers"),
                _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
            }
        }
        assert_eq!(conn.buf.capacity(), 0);
    }

    #[tokio::test]
    async fn first_byte_and_done_are_the_times_of_the_first_and_last_reads() {
        let addr = answering(|mut socket| async move {
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(60)).await;
            socket.write_all(b"world").await.unwrap();
            let _ = socket.read(&mut [0u8; 64]).await;
        })
        .await;
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut conn = H1Conn::new(RawStream::Plain(stream));
        let started = Instant::now();
        let received = conn
            .exchange(
                &Method::GET,
                "/",
                &RequestHeaders::Map(HeaderMap::new()),
                &Bytes::new(),
            )
            .await
            .unwrap();
        assert_eq!(&received.body[..], b"helloworld");
        assert!(received.first_byte >= started);
        let body_wait = received.done - received.first_byte;
        assert!(
            body_wait >= std::time::Duration::from_millis(50),
            "done must be when the body's last part arrived, {body_wait:?} after the head"
        );
        assert!(received.done <= Instant::now());
    }

    #[tokio::test]
    async fn content_length_bodies_are_read_exactly_and_keep_the_connection() {
        let (received, reusable) = exchange_with(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            Method::GET,
        )
        .await;
        assert_eq!(&received.unwrap().body[..], b"hello");
        assert!(reusable);
    }

    #[tokio::test]
    async fn chunked_bodies_are_joined_and_trailers_skipped() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";
        let (received, reusable) = exchange_with(raw, Method::GET).await;
        assert_eq!(&received.unwrap().body[..], b"hello world");
        assert!(reusable);
    }

    #[tokio::test]
    async fn continue_responses_are_skipped_and_head_has_no_body() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
        let (received, reusable) = exchange_with(raw, Method::HEAD).await;
        let received = received.unwrap();
        assert_eq!(received.head.status, StatusCode::OK);
        assert!(received.body.is_empty());
        assert!(reusable);
    }

    #[tokio::test]
    async fn connection_close_and_http10_are_not_reused() {
        let (_, reusable) = exchange_with(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            Method::GET,
        )
        .await;
        assert!(!reusable);
        let (received, reusable) =
            exchange_with(b"HTTP/1.0 200 OK\r\n\r\nuntil close", Method::GET).await;
        assert_eq!(&received.unwrap().body[..], b"until close");
        assert!(!reusable);
    }

    #[tokio::test]
    async fn a_server_that_closes_without_answering_is_reported_as_such() {
        let (received, _) = exchange_with(b"", Method::GET).await;
        assert!(matches!(received, Err(H1Error::ClosedBeforeResponse)));
    }
}
