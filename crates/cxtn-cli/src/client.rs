//! The management client the `webhooks` commands use: where it calls, and with which access token.
//!
//! The access token goes only where the command line says: with neither `--env` nor `--base-url` (nor their
//! variables), the commands refuse to call anything, so a token meant for the local simulator never reaches
//! CXTN's hosted sandbox by accident.

use std::path::Path;
use std::sync::OnceLock;

use cxtn::Environment;

use crate::cli::{ApiArgs, EnvArg};
use crate::error::CliError;

/// The variable the access token is read from.
pub(crate) const TOKEN_VARIABLE: &str = "CXTN_ACCESS_TOKEN";

/// The base URL of the local simulator `cxtn sandbox` runs at its default address.
pub(crate) const LOCAL_SIMULATOR_URL: &str = "http://127.0.0.1:4010/api/";

/// Where the management client of this process calls, once [`build`] made it: the errors of its calls
/// tailor their hints to it ([`called`]).
static CALLED: OnceLock<Environment> = OnceLock::new();

/// Where the management client of this process calls, once one was built.
pub(crate) fn called() -> Option<&'static Environment> {
    CALLED.get()
}

/// The environment the options name: `--base-url` first, then `--env`; neither is wrong usage.
pub(crate) fn environment(api: &ApiArgs) -> Result<Environment, CliError> {
    match (&api.base_url, &api.env) {
        (Some(url), _) if !url.trim().is_empty() => Ok(Environment::custom(url.trim())),
        (_, Some(env)) => Ok(env.environment.clone()),
        _ => Err(CliError::usage(
            "no API was named to call: give --env for one of CXTN's hosted environments, or --base-url for a local simulator",
        )
        .hint(format!(
            "Pass --base-url {LOCAL_SIMULATOR_URL} for the local simulator `cxtn sandbox` runs, or --env hosted-sandbox, staging or production for CXTN itself (or set CXTN_BASE_URL or CXTN_ENV)."
        ))),
    }
}

/// A warning for an `--env` value spelled the old way, `sandbox`, which is easily taken for the local simulator.
pub(crate) fn legacy_warning(env: Option<&EnvArg>) -> Option<String> {
    env.filter(|env| env.legacy).map(|_| {
        format!(
            "--env sandbox means CXTN's hosted sandbox environment ({}), not the local simulator; write --env hosted-sandbox, or pass --base-url {LOCAL_SIMULATOR_URL} for the simulator `cxtn sandbox` runs",
            Environment::SANDBOX_URL
        )
    })
}

/// The access token from `--token-file`, else from `CXTN_ACCESS_TOKEN`, trimmed.
pub(crate) fn access_token(token_file: Option<&Path>) -> Result<String, CliError> {
    let how = "Set CXTN_ACCESS_TOKEN, or pass --token-file PATH with a file holding the token.";
    if let Some(path) = token_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::usage(format!("cannot read the token file {}: {e}", path.display()))
                .hint("Check the path given to --token-file.")
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(CliError::usage(format!("the token file {} is empty", path.display())).hint(how));
        }
        return Ok(token.to_owned());
    }
    match std::env::var(TOKEN_VARIABLE) {
        Ok(token) if !token.trim().is_empty() => Ok(token.trim().to_owned()),
        Ok(_) => {
            Err(CliError::usage("CXTN_ACCESS_TOKEN is empty, and the webhooks commands need an access token").hint(how))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(CliError::usage("CXTN_ACCESS_TOKEN is not valid UTF-8").hint(how))
        }
        Err(std::env::VarError::NotPresent) => {
            Err(CliError::usage("the webhooks commands need an access token, and none was given").hint(how))
        }
    }
}

/// A management client for the environment and token the options give.
pub(crate) fn build(api: &ApiArgs) -> Result<cxtn::Client, CliError> {
    let environment = environment(api)?;
    let token = access_token(api.token_file.as_deref())?;
    let client = cxtn::Client::builder()
        .configure(|webhooks| {
            webhooks
                .environment(environment.clone())
                .access_token(token)
                .user_agent(concat!("cxtn-cli/", env!("CARGO_PKG_VERSION")))
        })
        .build()?;
    let _ = CALLED.set(environment);
    Ok(client)
}
