//! `explain FILE FROM TO PORT[/PROTO]`: is one flow allowed, by which rules on each side, and
//! when not, the nearest rules and why they do not match. `explain FILE --exposed`: every
//! ingress rule the whole internet reaches, risky ports marked. The answers are
//! `crate::flows`'; this file parses and prints.
//!
//! Exit code: 0 allowed (and `--exposed`), 3 denied, 2 bad input (unreadable file, invalid
//! set, unknown endpoint or traffic; clap's usage errors are 2 as well), 1 an AWS failure.

use std::path::PathBuf;

use serde_json::json;

use super::Output;
use super::view::{Failure, Loaded, ViewArgs, load};
use crate::flows::{
    Endpoint, Explanation, Exposure, Family, Probe, Query, RuleVerdict, Side, explain, exposed,
};

/// Exit code of a denied flow.
pub const DENIED: i32 = 3;

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// YAML file with the SecurityGroupSet (multi-document: choose one with --set; `-` reads
    /// stdin).
    pub file: PathBuf,
    /// Where the flow starts: a tier of the set, an IP or CIDR (IPv4 or IPv6), a prefix list
    /// id (pl-...), a security group id (sg-...; with --live, one of the set's own groups
    /// stands for its tier) or `internet` (0.0.0.0/0 and ::/0). Tier names come first.
    #[arg(required_unless_present = "exposed", allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Where the flow goes: the same forms as FROM.
    #[arg(required_unless_present = "exposed", allow_hyphen_values = true)]
    pub to: Option<String>,
    /// The traffic, PORT[/PROTO]: PROTO is tcp (default), udp, icmp or icmpv6 (PORT is then
    /// TYPE[:CODE], code 0 unless given), all or -1 (every protocol and port: `all` alone will
    /// do, a PORT before it is ignored), or an IP protocol number. E.g. 443, 53/udp, 8/icmp.
    #[arg(
        value_name = "PORT[/PROTO]",
        required_unless_present = "exposed",
        allow_hyphen_values = true
    )]
    pub port: Option<String>,
    /// Instead of one flow, list every ingress rule open to the whole internet (a CIDR of
    /// 0.0.0.0/0 or ::/0), with the risky ports it opens (22, 3389, 445, 139, 1433, 3306,
    /// 5432, 27017). Exit code 0.
    #[arg(long, conflicts_with_all = ["from", "to", "port"])]
    pub exposed: bool,
    #[command(flatten)]
    pub view: ViewArgs,
    /// text for people, json for tools.
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

pub async fn run(args: ExplainArgs) -> anyhow::Result<i32> {
    let loaded = match load(&args.file, &args.view).await {
        Ok(l) => l,
        Err(f) => return f.exit(),
    };
    if args.exposed {
        print_exposed(&loaded, &exposed(&loaded.view), args.output);
        return Ok(0);
    }
    let words = (args.from.as_deref(), args.to.as_deref(), args.port.as_deref());
    let (Some(from), Some(to), Some(port)) = words else {
        return Failure::Input("FROM, TO and PORT are required without --exposed".into()).exit();
    };
    let answer = query(&loaded, from, to, port).and_then(|q| explain(&loaded.view, &q));
    let explanation = match answer {
        Ok(e) => e,
        Err(message) => return Failure::Input(message).exit(),
    };
    match args.output {
        Output::Text => print!("{}", text(&loaded, &explanation)),
        Output::Json => {
            let mut doc = serde_json::to_value(&explanation)?;
            doc["source"] = json!(if loaded.live { "aws" } else { "file" });
            doc["sourceNotes"] = json!(loaded.notes);
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    Ok(if explanation.allowed { 0 } else { DENIED })
}

fn query(loaded: &Loaded, from: &str, to: &str, port: &str) -> Result<Query, String> {
    let end =
        |what: &str, text: &str| Endpoint::parse(text, &loaded.view).map_err(|e| format!("{what}: {e}"));
    Ok(Query {
        from: end("FROM", from)?,
        to: end("TO", to)?,
        probe: Probe::parse(port).map_err(|e| format!("PORT: {e}"))?,
    })
}

/// The answer as people read it: the verdict, each side's rules, the notes.
pub fn text(loaded: &Loaded, e: &Explanation) -> String {
    let verdict = match (e.allowed, e.families.as_slice()) {
        (true, [f]) => format!("ALLOWED (over {f} only)"),
        (true, _) => "ALLOWED".to_string(),
        (false, _) => "DENIED".to_string(),
    };
    let mut out = format!("{} ({})\n", e.set, loaded.source());
    out += &format!("{} -> {}, {}: {verdict}\n", e.from, e.to, e.traffic);
    for side in [&e.egress, &e.ingress] {
        out.push('\n');
        out += &side_text(side);
    }
    out.push('\n');
    for note in loaded.notes.iter().chain(&e.notes) {
        out += &format!("Note: {note}\n");
    }
    out
}

fn side_text(side: &Side) -> String {
    let direction = side.direction.as_str();
    let Some(tier) = &side.tier else {
        return format!(
            "{}: {}\n",
            capitalized(direction),
            side.note.as_deref().unwrap_or_default()
        );
    };
    let group = side
        .group_id
        .as_deref()
        .map(|g| format!(" ({g})"))
        .unwrap_or_default();
    let mut out = format!("{} of tier {tier}{group}: ", capitalized(direction));
    if side.allowed {
        out += "allowed by\n";
        for v in &side.allowed_by {
            out += &verdict_text('+', v);
        }
        return out;
    }
    match &side.note {
        Some(note) => out += &format!("no rule allows it: {note}\n"),
        None => out += "no rule allows it. Nearest:\n",
    }
    for v in &side.nearest {
        out += &verdict_text('-', v);
    }
    if side.not_shown > 0 {
        out += &format!("  ({} more {direction} rule(s) not shown)\n", side.not_shown);
    }
    out
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `  + tcp/8080 to tier app "App tier"`, then where it comes from and why it (does not) match.
fn verdict_text(mark: char, v: &RuleVerdict) -> String {
    let r = &v.rule;
    let description = r
        .description
        .as_deref()
        .map(|d| format!(" {d:?}"))
        .unwrap_or_default();
    let mut out = format!("  {mark} {}{description}\n", r.summary());
    if let Some(origin) = r.origin.as_deref().or(r.group_id.as_deref()) {
        out += &format!("      at {origin}\n");
    }
    let peer_why = v.why.last().map(String::as_str).unwrap_or_default();
    if !v.traffic_matches {
        out += &format!("      traffic does not match: {}\n", v.why[0]);
    }
    match v.peer_matches {
        true => out += &format!("      peer matches: {peer_why}\n"),
        false => out += &format!("      peer does not match: {peer_why}\n"),
    }
    out
}

fn print_exposed(loaded: &Loaded, found: &[Exposure], output: Output) {
    let risky = found.iter().filter(|x| !x.risky.is_empty()).count();
    if output == Output::Json {
        let doc = json!({
            "set": loaded.view.set,
            "source": if loaded.live { "aws" } else { "file" },
            "sourceNotes": loaded.notes,
            "exposed": found,
            "risky": risky,
        });
        println!("{}", serde_json::to_string_pretty(&doc).expect("serializable"));
        return;
    }
    print!("{}", exposed_text(loaded, found));
}

/// A table of the exposed rules, then a count.
pub fn exposed_text(loaded: &Loaded, found: &[Exposure]) -> String {
    let mut out = format!("{} ({})\n", loaded.view.set, loaded.source());
    if found.is_empty() {
        out += "No ingress rule is open to the whole internet (0.0.0.0/0 or ::/0).\n";
    } else {
        let header = ["TIER", "TRAFFIC", "FROM", "RISKY", "DESCRIPTION", "RULE"];
        let rows: Vec<[String; 6]> = found.iter().map(exposed_row).collect();
        out += &super::table(header, &rows);
        let risky = found.iter().filter(|x| !x.risky.is_empty()).count();
        let families = |f: Family| found.iter().filter(|x| x.family == f).count();
        out += &format!(
            "\n{} ingress rule(s) open to the internet ({} IPv4, {} IPv6); {risky} open a risky port.\n",
            found.len(),
            families(Family::V4),
            families(Family::V6)
        );
    }
    for note in &loaded.notes {
        out += &format!("Note: {note}\n");
    }
    out
}

fn exposed_row(x: &Exposure) -> [String; 6] {
    let risky: Vec<String> = x.risky.iter().map(|r| format!("{} {}", r.port, r.name)).collect();
    [
        x.rule.tier.clone(),
        x.rule.traffic.clone(),
        x.rule.peer.clone(),
        if risky.is_empty() {
            "-".into()
        } else {
            format!("RISKY: {}", risky.join(", "))
        },
        x.rule.description.clone().unwrap_or_else(|| "-".into()),
        x.rule
            .origin
            .clone()
            .or_else(|| x.rule.group_id.clone())
            .unwrap_or_default(),
    ]
}
