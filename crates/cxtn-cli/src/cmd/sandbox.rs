//! `cxtn sandbox`: the local simulator of CXTN, until Ctrl-C. It is not CXTN's hosted sandbox environment
//! (`--env hosted-sandbox`): nothing it does reaches CXTN.

use std::time::Duration;

use cxtn::sandbox::Sandbox;
use serde::Serialize;

use crate::cli::SandboxArgs;
use crate::error::CliError;
use crate::ui::{BOLD, DIM, Render, Ui};

pub(crate) async fn run(args: SandboxArgs, ui: &Ui) -> Result<(), CliError> {
    let mut builder = Sandbox::builder()
        .addr(args.addr)
        .retry_schedule(args.retry_ms.iter().map(|ms| Duration::from_millis(*ms)));
    if let Some(token) = &args.token {
        let token = token.expose_secret();
        if token.trim().is_empty() {
            return Err(
                CliError::usage("the simulator's token (--token or CXTN_SANDBOX_TOKEN) is empty")
                    .hint("Give a non-empty token, or leave it out for a random sbx_... token."),
            );
        }
        builder = builder.token(token.trim());
    }
    let sandbox = builder.start().await?;
    let signal = crate::cmd::shutdown_signal();
    let base_url = sandbox.base_url();
    let control = sandbox.control_url();
    let routes = Routes {
        health: format!("{control}health"),
        trigger: format!("{control}trigger"),
        deliveries: format!("{control}deliveries"),
    };
    ui.render(&Started {
        kind: "started",
        addr: sandbox.addr().to_string(),
        base_url: &base_url,
        token: sandbox.token().expose_secret(),
        control_url: &control,
        routes: &routes,
    })?;
    crate::cmd::warn_secret_flags(ui, &args.secret_flags);
    sandbox.run_until_shutdown(signal).await?;
    ui.render(&super::Stopped::new())
}

#[derive(Serialize)]
struct Routes {
    health: String,
    trigger: String,
    deliveries: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Started<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    addr: String,
    base_url: &'a str,
    token: &'a str,
    control_url: &'a str,
    routes: &'a Routes,
}

impl Render for Started<'_> {
    fn human(&self, ui: &Ui) {
        let (token, routes) = (self.token, self.routes);
        ui.out(format!(
            "{} of CXTN running on {} (not CXTN's hosted sandbox: nothing here reaches CXTN)",
            ui.paint(BOLD, "LOCAL SIMULATOR"),
            ui.paint(BOLD, &self.addr)
        ));
        ui.fields(&[
            ("base URL".to_owned(), self.base_url.to_owned()),
            ("token".to_owned(), token.to_owned()),
            ("health".to_owned(), format!("GET  {}", routes.health)),
            ("trigger".to_owned(), format!("POST {}", routes.trigger)),
            ("deliveries".to_owned(), format!("GET  {}", routes.deliveries)),
        ]);
        ui.out("");
        ui.out("Point the other commands at it (in another terminal, with a receiver such as `cxtn listen` on 8080):");
        ui.out(format!(
            "  export CXTN_BASE_URL={} CXTN_ACCESS_TOKEN={token}",
            self.base_url
        ));
        ui.out(
            "  cxtn webhooks ensure --event-type AccountTransaction --url http://127.0.0.1:8080/cxtn/$CXTN_PATH_TOKEN",
        );
        ui.out("  cxtn trigger account_credit --set amount=1000.00");
        ui.out(ui.paint(
            DIM,
            "Its token is a local test token, and its state lives in memory until Ctrl-C stops it.",
        ));
    }
}
