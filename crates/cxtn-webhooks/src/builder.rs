//! Building a [`Client`]: the environment, the token, the transport and the policies.

use std::fmt;
use std::sync::{Arc, Mutex};

use cxtn_model::{EndpointUrl, Environment, UrlErrorKind, UrlPolicy};
use cxtn_transport::{HeaderValue, Method, RetryPolicy, Transport, with_retry};

use crate::client::Inner;
use crate::{AccessToken, Client, Error, Operation, Route, Routes, TokenSource};

/// The `User-Agent` the client sends unless told otherwise.
pub const USER_AGENT: &str = concat!("cxtn-rs/", env!("CARGO_PKG_VERSION"));

/// Builds a [`Client`]. Setter problems surface at [`ClientBuilder::build`].
#[must_use]
pub struct ClientBuilder {
    environment: Environment,
    token: Option<Arc<dyn TokenSource>>,
    transport: Option<Arc<dyn Transport>>,
    retry: RetryPolicy,
    routes: Routes,
    user_agent: String,
    allow_insecure_http: bool,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("environment", &self.environment)
            .field("token", &self.token)
            .field("transport", &self.transport)
            .field("retry", &self.retry)
            .field("routes", &self.routes)
            .field("user_agent", &self.user_agent)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            environment: Environment::Sandbox,
            token: None,
            transport: None,
            retry: RetryPolicy::default(),
            routes: Routes::default(),
            user_agent: USER_AGENT.to_owned(),
            allow_insecure_http: false,
        }
    }
}

impl ClientBuilder {
    /// The CXTN environment to call (default: [`Environment::Sandbox`]).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// A base URL of your own, such as a local simulator (`http://127.0.0.1:4010/api/`).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.environment = Environment::custom(base_url);
        self
    }

    /// A static access token.
    pub fn access_token(mut self, token: impl Into<AccessToken>) -> Self {
        self.token = Some(Arc::new(token.into()));
        self
    }

    /// A source asked for the token before every call (to refresh it yourself).
    pub fn token_source(mut self, source: impl TokenSource + 'static) -> Self {
        self.token = Some(Arc::new(source));
        self
    }

    /// The HTTP transport. The retry layer is added on top of it.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Retries, backoff, per-attempt timeout and overall deadline (default: [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sends an operation to another route, since CXTN does not publish most of them.
    pub fn route(mut self, operation: Operation, method: Method, path: impl Into<String>) -> Self {
        self.routes.set(operation, Route::new(method, path));
        self
    }

    /// The `User-Agent` header (default: `cxtn-rs/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Accepts `http://` endpoint URLs on hosts other than loopback. Off by default: CXTN
    /// would deliver money notifications in clear text.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Whether a transport was given.
    #[must_use]
    pub fn has_transport(&self) -> bool {
        self.transport.is_some()
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when no token or transport was given, the token is empty,
    /// the base URL is not an http(s) URL, or the user agent is not a valid header value.
    pub fn build(self) -> Result<Client, Error> {
        let token = self.token.ok_or_else(|| {
            Error::config("no access token: call access_token(..) or token_source(..) on the builder")
        })?;
        let transport = self.transport.ok_or_else(|| {
            Error::config(
                "no HTTP transport: build through the `cxtn` crate with its `reqwest` or `hyper` feature, or pass transport(..)",
            )
        })?;
        let base = self.environment.base_url();
        EndpointUrl::parse_with(base, UrlPolicy::new().allow_insecure_http(true)).map_err(|e| match e.kind() {
            UrlErrorKind::Invalid(reason) => Error::config(format!("the base URL `{base}` is not a URL: {reason}")),
            _ => Error::config(format!(
                "the base URL must be http or https, not `{}`",
                e.scheme().unwrap_or_default()
            )),
        })?;
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::config("the user agent is not a valid header value; use visible ASCII"))?;
        Ok(Client {
            inner: Arc::new(Inner {
                environment: self.environment,
                token,
                transport: with_retry(transport, self.retry),
                routes: self.routes,
                user_agent,
                allow_insecure_http: self.allow_insecure_http,
                token_end_date: Mutex::new(None),
            }),
        })
    }
}
