//! Argo CD notifications, as the template of docs/integrations/argocd.md renders them.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::demo::history::*;

impl ServiceHistory {
    /// One notification about `rollout` of the `<service>-<env>` application. `sync` is when
    /// the sync operation finished and its phase; health notifications have none (the sync they
    /// follow succeeded).
    pub(crate) fn argocd(
        &mut self,
        env: &str,
        trigger: &str,
        rollout: &Rollout,
        sync: Option<(DateTime<Utc>, &str)>,
        health: (&str, DateTime<Utc>),
        history: &[&Rollout],
    ) {
        let finished = sync.map(|(at, _)| at);
        let phase = sync.map_or("Succeeded", |(_, phase)| phase);
        let service = self.p.service;
        let image = format!("ghcr.io/acme/{service}:{}", rollout.version);
        let payload = json!({
            "trigger": trigger,
            "argocdUrl": "https://argocd.acme.example",
            "app": {
                "name": format!("{service}-{env}"),
                "namespace": "argocd",
                "project": self.p.team,
                "labels": {
                    "dora-events.dev/service": service,
                    "dora-events.dev/environment": env,
                    "app.kubernetes.io/part-of": self.p.team,
                },
                "annotations": {},
            },
            "destination": {"server": format!("https://{env}.k8s.acme.example"), "namespace": service},
            "sync": {"status": "Synced", "revision": rollout.revision},
            "operation": {
                "phase": phase,
                "message": if phase == "Succeeded" { "successfully synced (all tasks run)".to_owned() } else { format!("one or more objects failed to apply: Deployment/{service} rollout timed out") },
                "startedAt": rfc3339(&rollout.started),
                "finishedAt": finished.map(|t| rfc3339(&t)),
                "revision": rollout.revision,
                "syncRevision": rollout.revision,
            },
            "health": {"status": health.0, "lastTransitionTime": rfc3339(&health.1)},
            "images": [image],
            "history": history.iter().enumerate().map(|(i, r)| json!({
                "id": i + 1,
                "revision": r.revision,
                "deployStartedAt": rfc3339(&r.started),
                "deployedAt": rfc3339(&(r.started + Duration::seconds(40))),
            })).collect::<Vec<_>>(),
        });
        let at = [Some(rollout.started), finished, Some(health.1)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(rollout.started);
        self.send(
            at,
            "/webhooks/argocd",
            vec![("content-type", "application/json".into())],
            payload,
        );
    }
}
