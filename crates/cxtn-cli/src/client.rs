//! The management client the `webhooks` commands use: environment, base URL and access token.

use std::path::Path;

use cxtn::Environment;

use crate::cli::Global;
use crate::error::CliError;

/// The variable the access token is read from.
pub(crate) const TOKEN_VARIABLE: &str = "CXTN_ACCESS_TOKEN";

/// The environment the global options name: `--base-url` first, then `--env`, then the sandbox.
pub(crate) fn environment(global: &Global) -> Environment {
    match (&global.base_url, &global.env) {
        (Some(url), _) => Environment::custom(url.trim()),
        (None, Some(environment)) => environment.clone(),
        (None, None) => Environment::Sandbox,
    }
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

/// A management client for the environment and token the global options give.
pub(crate) fn build(global: &Global) -> Result<cxtn::Client, CliError> {
    let token = access_token(global.token_file.as_deref())?;
    let client = cxtn::Client::builder()
        .configure(|webhooks| {
            webhooks
                .environment(environment(global))
                .access_token(token)
                .user_agent(concat!("cxtn-cli/", env!("CARGO_PKG_VERSION")))
        })
        .build()?;
    Ok(client)
}
