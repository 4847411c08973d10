//! The body of the console's responses: a whole page, or a stream of server-sent events.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

/// The body of a console response: a whole page at once, or the live stream of `/stream`.
#[derive(Debug)]
pub struct Body {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Whole(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl Body {
    pub(crate) fn whole(bytes: impl Into<Bytes>) -> Self {
        Self {
            inner: Inner::Whole(Some(bytes.into())),
        }
    }

    pub(crate) fn empty() -> Self {
        Self {
            inner: Inner::Whole(None),
        }
    }

    pub(crate) fn stream(chunks: mpsc::Receiver<Bytes>) -> Self {
        Self {
            inner: Inner::Stream(chunks),
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match &mut self.inner {
            Inner::Whole(bytes) => Poll::Ready(bytes.take().map(|bytes| Ok(Frame::data(bytes)))),
            Inner::Stream(chunks) => chunks
                .poll_recv(cx)
                .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.inner, Inner::Whole(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Whole(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Inner::Whole(None) => SizeHint::with_exact(0),
            Inner::Stream(_) => SizeHint::default(),
        }
    }
}
