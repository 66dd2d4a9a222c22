//! Events, two kinds. A *record* says what a reconcile wrote to AWS (`Applied`,
//! `DriftCorrected`, `Deleted`, `Retained`): each is its own Event with its own note. A *report*
//! says why a set is not Ready (a failure, an object that cannot be decoded): it repeats while the
//! cause lasts, so its repeats become one Event's series (`series.count`), as client-go does.
//!
//! Why records skip kube's `Recorder` cache: the cache keys a series by object and reason, not
//! note, and a repeat patches only the count, so a second `Applied` of one set within six minutes
//! would be shown with the first one's note (what was written then, not now). The cache also
//! keeps every Event it sent for six minutes: at 1,000 sets, a thousand notes through a rollout.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tracing::warn;

/// The API server refuses an Event note over 1 KiB.
const MAX_NOTE_BYTES: usize = 1000;

pub struct Events {
    client: Client,
    reporter: Reporter,
    /// Reports only: their series live here for kube's six minutes.
    reports: Recorder,
}

/// Which kind of Event (see the module's comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Record,
    Report,
}

/// One Event's content.
pub struct Note<'a> {
    pub type_: EventType,
    pub reason: &'a str,
    pub action: &'a str,
    pub text: String,
}

impl Events {
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Events {
            reports: Recorder::new(client.clone(), reporter.clone()),
            client,
            reporter,
        }
    }

    /// Publishes an Event about `regarding`; a failure to publish is logged, never returned
    /// (an Event is a courtesy, the status is the record).
    pub async fn publish(&self, regarding: &ObjectReference, kind: Kind, note: Note<'_>) {
        let event = Event {
            type_: note.type_,
            reason: note.reason.into(),
            note: Some(truncate_utf8(&note.text, MAX_NOTE_BYTES).into()),
            action: note.action.into(),
            secondary: None,
        };
        let published = match kind {
            // A recorder of its own: nothing cached, so nothing merged and nothing kept.
            Kind::Record => {
                let once = Recorder::new(self.client.clone(), self.reporter.clone());
                once.publish(&event, regarding).await
            }
            Kind::Report => self.reports.publish(&event, regarding).await,
        };
        if let Err(e) = published {
            warn!(error = %e, reason = note.reason, "could not publish an Event");
        }
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
