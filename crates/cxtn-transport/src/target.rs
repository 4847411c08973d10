//! The parts of a URL that may be shown: scheme, host, port and path, never the query or credentials.

/// A URL split into its parts, without validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    /// `http`, `https`, ... when the URL has one.
    pub(crate) scheme: Option<&'a str>,
    /// Whether the authority carries `user[:password]@`.
    pub(crate) has_userinfo: bool,
    /// `host[:port]`, without user information.
    pub(crate) host: &'a str,
    /// The path, `/` when the URL has none.
    pub(crate) path: &'a str,
    /// Whether the URL has a query string.
    pub(crate) has_query: bool,
}

impl<'a> UrlParts<'a> {
    pub(crate) fn new(url: &'a str) -> Self {
        let url = url.trim();
        let url = url.split_once('#').map_or(url, |(before, _)| before);
        let (url, has_query) = match url.split_once('?') {
            Some((before, _)) => (before, true),
            None => (url, false),
        };
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, url),
        };
        let (authority, path) = if scheme.is_some() {
            match rest.find('/').and_then(|at| rest.split_at_checked(at)) {
                Some((authority, path)) => (authority, path),
                None => (rest, ""),
            }
        } else {
            ("", rest)
        };
        let (has_userinfo, host) = match authority.rsplit_once('@') {
            Some((_, host)) => (true, host),
            None => (false, authority),
        };
        Self {
            scheme,
            has_userinfo,
            host,
            path: if path.is_empty() { "/" } else { path },
            has_query,
        }
    }

    /// `host:port`, with the default port of `http` and `https` when the URL names none; `the server` when the URL
    /// has no host.
    pub(crate) fn host_port(&self) -> String {
        if self.host.is_empty() {
            return "the server".to_owned();
        }
        let has_port = match self.host.rsplit_once(':') {
            // An IPv6 literal such as `[::1]` has colons inside the brackets.
            Some((_, port)) => !port.contains(']'),
            None => false,
        };
        if has_port {
            return self.host.to_owned();
        }
        match self.scheme.map(str::to_ascii_lowercase).as_deref() {
            Some("http") => format!("{}:80", self.host),
            Some("https") => format!("{}:443", self.host),
            _ => self.host.to_owned(),
        }
    }

    /// The URL without credentials, query or fragment, with `<redacted>` where they were.
    pub(crate) fn redacted(&self) -> String {
        let mut shown = String::new();
        if let Some(scheme) = self.scheme {
            shown.push_str(scheme);
            shown.push_str("://");
        }
        if self.has_userinfo {
            shown.push_str("<redacted>@");
        }
        shown.push_str(self.host);
        shown.push_str(self.path);
        if self.has_query {
            shown.push_str("?<redacted>");
        }
        shown
    }
}

#[cfg(test)]
mod tests;
