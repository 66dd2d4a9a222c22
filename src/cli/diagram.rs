//! `diagram FILE [--format mermaid|dot|svg] [--live]`: the set's allowed flows as a picture.
//! Tiers and external peers (CIDRs, prefix lists, outside groups, other sets' tiers, the
//! internet) are nodes, allowed flows are edges labelled with their traffic, and edges from the
//! internet are red and bold. The graph is `crate::flows::graph`'s, sorted, so the text is
//! the same on every run. SVG is Graphviz's rendering of the DOT text (`dot -Tsvg`).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use clap::ValueEnum;

use super::view::{ViewArgs, load};
use crate::flows::{Graph, Node, NodeKind, graph};

#[derive(clap::Args, Debug)]
pub struct DiagramArgs {
    /// YAML file with the SecurityGroupSet (multi-document: choose one with --set; `-` reads
    /// stdin).
    pub file: PathBuf,
    /// What to print.
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: DiagramFormat,
    #[command(flatten)]
    pub view: ViewArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiagramFormat {
    /// Mermaid flowchart text (GitHub and GitLab render it in Markdown).
    Mermaid,
    /// Graphviz DOT text.
    Dot,
    /// SVG, rendered by Graphviz's `dot` (must be on PATH).
    Svg,
}

/// Exit code: 0 printed, 2 bad input (as `explain`), 1 an AWS failure or no `dot` for SVG.
pub async fn run(args: DiagramArgs) -> anyhow::Result<i32> {
    let loaded = match load(&args.file, &args.view).await {
        Ok(l) => l,
        Err(f) => return f.exit(),
    };
    for note in &loaded.notes {
        eprintln!("note: {note}");
    }
    let g = graph(&loaded.view);
    let mut stdout = std::io::stdout().lock();
    match args.format {
        DiagramFormat::Mermaid => stdout.write_all(mermaid(&g).as_bytes())?,
        DiagramFormat::Dot => stdout.write_all(dot(&g).as_bytes())?,
        DiagramFormat::Svg => match svg(&dot(&g)) {
            Ok(bytes) => stdout.write_all(&bytes)?,
            Err(e) => {
                eprintln!("error: {e:#}");
                return Ok(1);
            }
        },
    }
    Ok(0)
}

/// Red, for what the internet reaches.
const EXPOSED_COLOUR: &str = "#cc0000";

/// A Mermaid flowchart: the set's tiers in a subgraph, external peers around it.
pub fn mermaid(g: &Graph) -> String {
    let ids = mermaid_ids(g);
    let id = |key: &str| -> String {
        ids.iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| key.to_string(), |(_, id)| id.clone())
    };
    let mut out = String::from("flowchart LR\n");
    out += &format!("  subgraph sgs[\"{}\"]\n", mermaid_text(&g.set));
    for n in g.nodes.iter().filter(|n| n.kind == NodeKind::Tier) {
        out += &format!("    {}\n", mermaid_node(&id(&n.key), n));
    }
    out += "  end\n";
    for n in g.nodes.iter().filter(|n| n.kind != NodeKind::Tier) {
        out += &format!("  {}\n", mermaid_node(&id(&n.key), n));
    }
    let mut exposed = Vec::new();
    for (i, e) in g.edges.iter().enumerate() {
        let arrow = if e.exposed { "==>" } else { "-->" };
        let label = mermaid_text(&e.label);
        out += &format!("  {} {arrow}|\"{label}\"| {}\n", id(&e.from), id(&e.to));
        if e.exposed {
            exposed.push(i.to_string());
        }
    }
    if g.nodes.iter().any(|n| n.kind == NodeKind::Internet) {
        out +=
            &format!("  classDef exposed stroke:{EXPOSED_COLOUR},stroke-width:2px,color:{EXPOSED_COLOUR}\n");
        out += &format!("  class {} exposed\n", id("internet"));
    }
    if !exposed.is_empty() {
        out += &format!(
            "  linkStyle {} stroke:{EXPOSED_COLOUR},stroke-width:3px,color:{EXPOSED_COLOUR}\n",
            exposed.join(",")
        );
    }
    out
}

/// Node key → a Mermaid id: letters, digits and `_`, unique.
fn mermaid_ids(g: &Graph) -> Vec<(String, String)> {
    let mut used = BTreeSet::new();
    g.nodes
        .iter()
        .map(|n| {
            let base: String = n
                .key
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let mut id = base.clone();
            let mut k = 2;
            while !used.insert(id.clone()) {
                id = format!("{base}_{k}");
                k += 1;
            }
            (n.key.clone(), id)
        })
        .collect()
}

fn mermaid_node(id: &str, n: &Node) -> String {
    let mut label = mermaid_text(&n.label);
    if let Some(d) = &n.detail {
        label += &format!("<br/>{}", mermaid_text(d));
    }
    let (open, close) = match n.kind {
        NodeKind::Tier => ("[", "]"),
        NodeKind::Internet => ("((", "))"),
        NodeKind::Cidr => ("[/", "/]"),
        NodeKind::PrefixList => ("[[", "]]"),
        NodeKind::Group => ("{{", "}}"),
        NodeKind::SetRef => ("([", "])"),
        NodeKind::Other => (">", "]"),
    };
    format!("{id}{open}\"{label}\"{close}")
}

/// Quotes cannot appear in a quoted Mermaid label: its entity code does.
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// Graphviz DOT: the set's tiers in a cluster, external peers around it.
pub fn dot(g: &Graph) -> String {
    let mut out = String::from("digraph flows {\n");
    out += "  rankdir=LR;\n";
    out += "  node [fontname=\"Helvetica\", fontsize=11];\n";
    out += "  edge [fontname=\"Helvetica\", fontsize=10];\n";
    out += "  subgraph cluster_set {\n";
    out += &format!("    label={};\n    style=rounded;\n", dot_text(&g.set));
    for n in g.nodes.iter().filter(|n| n.kind == NodeKind::Tier) {
        out += &format!("    {}\n", dot_node(n));
    }
    out += "  }\n";
    for n in g.nodes.iter().filter(|n| n.kind != NodeKind::Tier) {
        out += &format!("  {}\n", dot_node(n));
    }
    for e in &g.edges {
        let style = match e.exposed {
            true => format!(
                ", color=\"{EXPOSED_COLOUR}\", fontcolor=\"{EXPOSED_COLOUR}\", penwidth=2.5, style=bold"
            ),
            false => String::new(),
        };
        out += &format!(
            "  {} -> {} [label={}{style}];\n",
            dot_text(&e.from),
            dot_text(&e.to),
            dot_text(&e.label)
        );
    }
    out += "}\n";
    out
}

fn dot_node(n: &Node) -> String {
    let label = match &n.detail {
        Some(d) => format!("{}\n{d}", n.label),
        None => n.label.clone(),
    };
    let shape = match n.kind {
        NodeKind::Tier => "box, style=rounded".to_string(),
        NodeKind::Internet => {
            format!("ellipse, peripheries=2, color=\"{EXPOSED_COLOUR}\", fontcolor=\"{EXPOSED_COLOUR}\"")
        }
        NodeKind::Cidr => "parallelogram".into(),
        NodeKind::PrefixList => "folder".into(),
        NodeKind::Group => "hexagon".into(),
        NodeKind::SetRef => "component".into(),
        NodeKind::Other => "plaintext".into(),
    };
    format!(
        "{} [label={}, shape={shape}];",
        dot_text(&n.key),
        dot_text(&label)
    )
}

/// A DOT string: quoted, `"` and `\` escaped, newlines as `\n`.
fn dot_text(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    format!("\"{escaped}\"")
}

/// Graphviz's SVG of a DOT text; a clear error when `dot` is not installed.
pub fn svg(dot_text: &str) -> anyhow::Result<Vec<u8>> {
    let mut child = match Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "--format svg needs Graphviz's `dot` on PATH, and there is none: install graphviz \
             (apt-get install graphviz, dnf install graphviz, brew install graphviz), or print \
             --format dot and render it elsewhere"
        ),
        Err(e) => return Err(e).context("run dot -Tsvg"),
    };
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = dot_text.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().context("run dot -Tsvg")?;
    writer
        .join()
        .expect("writer thread")
        .context("write to dot -Tsvg")?;
    if !out.status.success() {
        bail!(
            "dot -Tsvg failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests;
