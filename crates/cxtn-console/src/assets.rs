//! The stylesheet and the script, built into the binary: no Node build step, nothing fetched from elsewhere.

use http::Method;

use crate::routes::Reply;

const SCRIPT: &str = include_str!("../assets/console.js");
const STYLE: &str = include_str!("../assets/console.css");

/// The asset `path` names, for a GET; `None` for any other path.
pub(crate) fn serve(method: &Method, path: &str) -> Option<Reply> {
    if !matches!(*method, Method::GET | Method::HEAD) {
        return None;
    }
    match path {
        "/assets/console.js" => Some(Reply::asset("text/javascript; charset=utf-8", SCRIPT.as_bytes())),
        "/assets/console.css" => Some(Reply::asset("text/css; charset=utf-8", STYLE.as_bytes())),
        _ => None,
    }
}
