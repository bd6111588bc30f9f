//! The socket under hyper: it bounds how long a write may stall, and it answers
//! hyper's own parse errors with the service's JSON errors.
//!
//! # Why hyper's error responses are rewritten here
//!
//! When hyper (1.x) cannot parse a request head it writes a bare response of
//! its own, `400`, `414` or `431` with an empty body, and closes the
//! connection; it offers no hook to change it. [`Socket`] follows the responses
//! on their way out instead. The app writes one response per request, and the
//! service records, before hyper can write it, how many body bytes that
//! response will carry ([`Exchange::expect`]). Reading the outgoing bytes,
//! [`Socket`] passes each head through once it is complete together with the
//! body announced for it. A final head for which no response was recorded can
//! only be hyper's own: it is replaced with [`dcr_http::refusal`]'s answer
//! (`Connection: close`, as hyper closes anyway), and anything after it is
//! dropped. Interim `1xx` heads (hyper's `100 Continue`) pass through.
//!
//! This relies on what hyper 1.x does, checked in its `proto::h1` source: it
//! writes responses in request order; it writes its own error response only
//! when no response is being written and then closes the connection; a `HEAD`
//! response and a `204` carry no body bytes.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use dcr_http::Refusal;
use http::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// What the service tells the socket about the responses it hands to hyper.
#[derive(Default)]
pub(crate) struct Exchange {
    /// Body bytes of each response recorded and not yet seen on the wire.
    bodies: Mutex<VecDeque<usize>>,
}

impl Exchange {
    /// Records a response about to be handed to hyper.
    pub(crate) fn expect(&self, method: &Method, status: StatusCode, body_len: usize) {
        let on_wire = if method == Method::HEAD
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            0
        } else {
            body_len
        };
        self.bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(on_wire);
    }

    fn next(&self) -> Option<usize> {
        self.bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }
}

/// Where the outgoing byte stream is.
enum Out {
    /// In a response head: its bytes so far.
    Head(Vec<u8>),
    /// In a body: this many bytes to go.
    Body(usize),
    /// After a replaced response of hyper's: nothing more goes out.
    Replaced,
}

/// Longest response head [`Socket`] buffers (ours are well under 1 KiB).
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// Most bytes [`Socket`] holds for the peer before a write waits for it.
const MAX_PENDING: usize = 64 * 1024;

/// A connection's socket as hyper sees it.
pub(crate) struct Socket<S> {
    inner: S,
    exchange: Arc<Exchange>,
    out: Out,
    /// Bytes taken from hyper and not yet written to `inner`.
    pending: Vec<u8>,
    write_timeout: Duration,
    /// Runs while a write or flush of `inner` waits.
    stall: Option<Pin<Box<Sleep>>>,
}

impl<S> Socket<S> {
    pub(crate) fn new(inner: S, exchange: Arc<Exchange>, write_timeout: Duration) -> Self {
        Self {
            inner,
            exchange,
            out: Out::Head(Vec::new()),
            pending: Vec::new(),
            write_timeout,
            stall: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> Socket<S> {
    /// Turns a `Pending` of `inner` into a timeout error once it has lasted too long.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let timeout = self.write_timeout;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(stall.as_mut().poll(cx));
        self.stall = None;
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "the peer did not read the response in time",
        ))
    }

    /// Writes `bytes` to `inner`, bounded by the write timeout.
    fn write_inner(&mut self, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        self.bounded(cx, |inner, cx| inner.poll_write(cx, bytes))
    }

    /// Runs one poll of `inner`, bounded by the write timeout.
    fn bounded<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll(Pin::new(&mut self.inner), cx) {
            Poll::Ready(result) => {
                self.stall = None;
                Poll::Ready(result)
            }
            Poll::Pending => Poll::Ready(Err(ready!(self.stalled(cx)))),
        }
    }

    /// Writes out everything pending.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let written = self.write_inner(cx, &pending);
            self.pending = pending;
            match ready!(written)? {
                0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                n => {
                    self.pending.drain(..n);
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Takes all of `buf` into `pending`: response heads once complete (hyper's
    /// own replaced), bodies as they come, nothing after a replaced response.
    fn absorb(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let total = buf.len();
        while !buf.is_empty() {
            match &mut self.out {
                Out::Replaced => break,
                Out::Body(left) => {
                    let n = (*left).min(buf.len());
                    self.pending.extend_from_slice(&buf[..n]);
                    *left -= n;
                    if *left == 0 {
                        self.out = Out::Head(Vec::new());
                    }
                    buf = &buf[n..];
                }
                Out::Head(head) => match head_end(head, buf) {
                    None => {
                        head.extend_from_slice(buf);
                        if head.len() > MAX_RESPONSE_HEAD {
                            return Err(io::Error::other("a response head is too long"));
                        }
                        break;
                    }
                    Some(end) => {
                        head.extend_from_slice(&buf[..end]);
                        let head = std::mem::take(head);
                        self.pass_head(&head);
                        buf = &buf[end..];
                    }
                },
            }
        }
        Ok(total)
    }

    /// Queues a complete response head, or the replacement of hyper's own.
    fn pass_head(&mut self, head: &[u8]) {
        let status = status_of(head);
        if status.is_some_and(|s| (100..200).contains(&s)) {
            self.pending.extend_from_slice(head);
            self.out = Out::Head(Vec::new());
        } else if let Some(body) = self.exchange.next() {
            self.pending.extend_from_slice(head);
            self.out = if body == 0 {
                Out::Head(Vec::new())
            } else {
                Out::Body(body)
            };
        } else {
            let refusal = match status {
                Some(414) => Refusal::UriTooLong,
                Some(431) => Refusal::HeadersTooLarge,
                _ => Refusal::Malformed,
            };
            tracing::debug!(target: "dcr::access", status = ?status, "request refused by the HTTP parser");
            self.pending
                .extend_from_slice(&crate::handler::raw_refusal(refusal));
            self.out = Out::Replaced;
        }
    }
}

/// Where in `buf` the head that `head` began ends (just past its `\r\n\r\n`).
fn head_end(head: &[u8], buf: &[u8]) -> Option<usize> {
    const END: &[u8; 4] = b"\r\n\r\n";
    let step = |matched: usize, byte: u8| {
        if byte == END[matched] {
            matched + 1
        } else {
            usize::from(byte == b'\r')
        }
    };
    let mut matched = head[head.len().saturating_sub(3)..]
        .iter()
        .fold(0, |m, &b| step(m, b));
    for (i, &byte) in buf.iter().enumerate() {
        matched = step(matched, byte);
        if matched == END.len() {
            return Some(i + 1);
        }
    }
    None
}

/// The status code of a response head (`HTTP/1.1 404 Not Found`).
fn status_of(head: &[u8]) -> Option<u16> {
    let code = head.get(9..12)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

impl<S: AsyncRead + Unpin> AsyncRead for Socket<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Socket<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.len() >= MAX_PENDING {
            ready!(this.drain(cx))?;
        }
        let taken = this.absorb(buf)?;
        // One write for what hyper handed over (a whole response, usually); what
        // the socket does not take now goes out on the next write or flush.
        if let Poll::Ready(Err(e)) = this.drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(taken))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.drain(cx))?;
        this.bounded(cx, AsyncWrite::poll_flush)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.drain(cx))?;
        this.bounded(cx, AsyncWrite::poll_shutdown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Writes `chunks` through a socket whose service recorded `recorded`
    /// responses, and returns what reached the peer.
    async fn through(recorded: &[(Method, u16, usize)], chunks: &[&[u8]]) -> String {
        let (ours, mut peer) = tokio::io::duplex(1 << 16);
        let exchange = Arc::new(Exchange::default());
        for (method, status, len) in recorded {
            exchange.expect(method, StatusCode::from_u16(*status).unwrap(), *len);
        }
        let mut socket = Socket::new(ours, exchange, Duration::from_secs(5));
        for chunk in chunks {
            // Byte by byte: the head may come in any pieces.
            for byte in chunk.iter() {
                socket.write_all(&[*byte]).await.unwrap();
            }
        }
        socket.shutdown().await.unwrap();
        let mut out = String::new();
        peer.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_apps_responses_pass_through_unchanged() {
        let first = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody";
        let head = b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 9\r\n\r\n";
        let cont = b"HTTP/1.1 100 Continue\r\n\r\n";
        let created = b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}";
        let out = through(
            &[
                (Method::GET, 200, 4),
                (Method::HEAD, 405, 9),
                (Method::POST, 201, 2),
            ],
            &[first, head, cont, created],
        )
        .await;
        let expected = [&first[..], head, cont, created].concat();
        assert_eq!(out.as_bytes(), expected.as_slice());
    }

    #[tokio::test]
    async fn hypers_own_error_response_becomes_json() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        let hypers = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        let out = through(&[(Method::GET, 200, 2)], &[ok, hypers, b"anything"]).await;
        let (first, rest) = out.split_at(ok.len());
        assert_eq!(first.as_bytes(), ok);
        assert!(rest.starts_with("HTTP/1.1 431 "), "{rest}");
        assert!(
            rest.contains("content-type: application/json\r\n"),
            "{rest}"
        );
        assert!(rest.contains("connection: close\r\n"), "{rest}");
        assert!(rest.ends_with("}"), "{rest}");
        let body = rest.split("\r\n\r\n").nth(1).unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], "invalid_request");
    }
}
