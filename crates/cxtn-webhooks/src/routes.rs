//! The management routes, and overrides for them.

use std::fmt;

use cxtn_transport::Method;

/// A webhook management operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Enable webhooks on the account.
    Enable,
    /// Create the endpoint of an event type.
    Create,
    /// Change the URL of an endpoint.
    Edit,
    /// Set an endpoint Active, Inactive or Paused.
    SetStatus,
    /// Deactivate every endpoint.
    DeactivateAll,
    /// List the endpoints.
    List,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Self; 6] = [
        Self::Enable,
        Self::Create,
        Self::Edit,
        Self::SetStatus,
        Self::DeactivateAll,
        Self::List,
    ];

    /// A short name for logs and errors (`create`, `set_status`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enable => "enable",
            Self::Create => "create",
            Self::Edit => "edit",
            Self::SetStatus => "set_status",
            Self::DeactivateAll => "deactivate_all",
            Self::List => "list",
        }
    }

    /// Whether sending the operation twice has the effect of sending it once, so it may be retried
    /// after a failure that might have reached the server. Only create is not.
    #[must_use]
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Self::Create)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an operation is sent: a method and a path relative to the base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The path, relative to the base URL (`webhooks/endpoints`).
    pub path: String,
}

impl Route {
    /// A route.
    #[must_use]
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
        }
    }
}

/// The route of every operation.
///
/// CXTN publishes only the create route (`POST webhooks/endpoints`) and the methods of the others;
/// the other paths are this SDK's assumptions, listed in the table below.
/// Override any of them with [`ClientBuilder::route`](crate::ClientBuilder::route) without waiting for a release.
///
/// | operation | route |
/// |---|---|
/// | enable | `POST webhooks/enable` |
/// | create | `POST webhooks/endpoints` (published) |
/// | edit | `PUT webhooks/endpoints` |
/// | set status | `PUT webhooks/endpoints/status` |
/// | deactivate all | `PUT webhooks/deactivate` |
/// | list | `GET webhooks/endpoints` |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    enable: Route,
    create: Route,
    edit: Route,
    set_status: Route,
    deactivate_all: Route,
    list: Route,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            enable: Route::new(Method::POST, "webhooks/enable"),
            create: Route::new(Method::POST, "webhooks/endpoints"),
            edit: Route::new(Method::PUT, "webhooks/endpoints"),
            set_status: Route::new(Method::PUT, "webhooks/endpoints/status"),
            deactivate_all: Route::new(Method::PUT, "webhooks/deactivate"),
            list: Route::new(Method::GET, "webhooks/endpoints"),
        }
    }
}

impl Routes {
    /// The route of an operation.
    #[must_use]
    pub fn get(&self, operation: Operation) -> &Route {
        match operation {
            Operation::Enable => &self.enable,
            Operation::Create => &self.create,
            Operation::Edit => &self.edit,
            Operation::SetStatus => &self.set_status,
            Operation::DeactivateAll => &self.deactivate_all,
            Operation::List => &self.list,
        }
    }

    /// Replaces the route of an operation.
    pub fn set(&mut self, operation: Operation, route: Route) {
        let slot = match operation {
            Operation::Enable => &mut self.enable,
            Operation::Create => &mut self.create,
            Operation::Edit => &mut self.edit,
            Operation::SetStatus => &mut self.set_status,
            Operation::DeactivateAll => &mut self.deactivate_all,
            Operation::List => &mut self.list,
        };
        *slot = route;
    }
}
