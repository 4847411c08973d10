//! `cxtn inbox prune` and `cxtn inbox vacuum`: retention of what a receiver stored.

use std::sync::Arc;

use cxtn::receiver::{Inbox, PrunePolicy, PruneReport};
use serde::Serialize;

use crate::cli::InboxPruneArgs;
use crate::error::CliError;
use crate::store;
use crate::ui::{DIM, GOOD, Render, Ui};

/// The policy the flags describe.
fn policy_of(args: &InboxPruneArgs) -> PrunePolicy {
    let mut policy = PrunePolicy::default()
        .conflicts(args.include_conflicts)
        .dedupe_window(args.dedupe_window)
        .dry_run(args.dry_run);
    if let Some(age) = args.processed_older_than {
        policy = policy.processed_older_than(age);
        if args.include_quarantined {
            policy = policy.quarantined_older_than(age);
        }
        if args.include_rejections {
            policy = policy.rejections_older_than(age);
        }
    }
    if let Some(age) = args.dead_older_than {
        policy = policy.dead_older_than(age);
    }
    policy
}

pub(crate) async fn prune(ui: &Ui, inbox: &Arc<dyn Inbox>, args: &InboxPruneArgs) -> Result<(), CliError> {
    let report = {
        let _spinner = ui.spinner(if args.dry_run {
            "counting what a prune would delete"
        } else {
            "pruning the inbox"
        });
        inbox.prune(&policy_of(args)).await?
    };
    ui.render(&Pruned {
        operation: "prune",
        dry_run: report.dry_run,
        processed: report.processed,
        dead: report.dead,
        quarantined: report.quarantined,
        conflicts: report.conflicts,
        rejections: report.rejections,
        remembered: report.remembered,
        forgotten: report.forgotten,
        reclaimed_bytes: report.reclaimed_bytes,
        report,
    })
}

pub(crate) async fn vacuum(ui: &Ui, db: &str) -> Result<(), CliError> {
    let vacuumed = {
        let _spinner = ui.spinner("giving the inbox's free space back to the file system");
        store::vacuum(db).await?
    };
    ui.render(&Vacuumed {
        operation: "vacuum",
        switched: vacuumed.as_ref().is_some_and(|v| v.switched),
        bytes_before: vacuumed.as_ref().map(|v| v.bytes_before),
        bytes_after: vacuumed.as_ref().map(|v| v.bytes_after),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pruned {
    operation: &'static str,
    dry_run: bool,
    processed: u64,
    dead: u64,
    quarantined: u64,
    conflicts: u64,
    rejections: u64,
    remembered: u64,
    forgotten: u64,
    reclaimed_bytes: u64,
    #[serde(skip)]
    report: PruneReport,
}

impl Render for Pruned {
    fn human(&self, ui: &Ui) {
        let r = &self.report;
        let verb = if r.dry_run { "Would delete" } else { "Deleted" };
        let mut parts = vec![format!(
            "{} ({} processed, {} dead, {} quarantined)",
            plural(r.events(), "event"),
            r.processed,
            r.dead,
            r.quarantined
        )];
        if r.conflicts > 0 {
            parts.push(plural(r.conflicts, "conflicting version"));
        }
        if r.rejections > 0 || r.dry_run {
            parts.push(plural(r.rejections, "rejected delivery"));
        }
        ui.out(format!("{verb} {}.", parts.join(", ")));
        if r.remembered > 0 {
            let will = if r.dry_run { "would stay" } else { "stay" };
            ui.out(format!(
                "Their redeliveries {will} duplicates: {} remembered for the dedupe window.",
                plural(r.remembered, "event id")
            ));
        }
        if r.forgotten > 0 {
            let were = if r.dry_run { "would be" } else { "were" };
            ui.out(format!(
                "{} past the dedupe window {were} forgotten.",
                plural(r.forgotten, "remembered id")
            ));
        }
        if r.reclaimed_bytes > 0 {
            ui.out(ui.paint(
                GOOD,
                format!("{} given back to the file system.", bytes(r.reclaimed_bytes)),
            ));
        }
        if r.dry_run {
            ui.out(ui.paint(DIM, "Nothing was deleted: run again without --dry-run to prune."));
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Vacuumed {
    operation: &'static str,
    switched: bool,
    bytes_before: Option<u64>,
    bytes_after: Option<u64>,
}

impl Render for Vacuumed {
    fn human(&self, ui: &Ui) {
        let (Some(before), Some(after)) = (self.bytes_before, self.bytes_after) else {
            ui.out("A PostgreSQL inbox needs no vacuum from cxtn: the server's autovacuum reuses the space of deleted rows.");
            return;
        };
        if self.switched {
            ui.out("The inbox was rewritten once: from now on each prune gives its free space back.");
        }
        ui.out(ui.paint(
            GOOD,
            format!("The inbox file went from {} to {}.", bytes(before), bytes(after)),
        ));
    }
}

fn plural(n: u64, what: &str) -> String {
    match (n, what.strip_suffix('y')) {
        (1, _) => format!("1 {what}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {what}s"),
    }
}

fn bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / MIB)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{bytes, plural};

    #[test]
    fn counts_read_as_words() {
        assert_eq!(plural(1, "event"), "1 event");
        assert_eq!(plural(0, "event"), "0 events");
        assert_eq!(plural(2, "rejected delivery"), "2 rejected deliveries");
        assert_eq!(bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(bytes(512), "0.5 KiB");
    }
}
