//! Tekton's CloudEvents of pipeline runs.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::demo::history::*;

/// A pipeline run, as the history has it.
pub(crate) struct TektonRun<'a> {
    pub(crate) pipeline: &'a str,
    /// Where it deploys (a run that only builds has none).
    pub(crate) env: Option<&'a str>,
    pub(crate) revision: &'a str,
    pub(crate) image: Option<&'a str>,
    pub(crate) started: DateTime<Utc>,
    pub(crate) finished: DateTime<Utc>,
    pub(crate) success: bool,
}

impl ServiceHistory {
    /// The CloudEvent Tekton sends when `run` finishes.
    pub(crate) fn tekton_run(&mut self, run: TektonRun<'_>) {
        let TektonRun {
            pipeline,
            env,
            revision,
            image,
            started,
            finished,
            success,
        } = run;
        let suffix = self.rng.hex(5);
        let name = format!("{pipeline}-run-{suffix}");
        let uid = self.rng.uuid();
        let mut params = vec![
            json!({"name": "service", "value": self.p.service}),
            json!({"name": "revision", "value": revision}),
        ];
        if let Some(env) = env {
            params.push(json!({"name": "environment", "value": env}));
        }
        if let Some(image) = image {
            params.push(json!({"name": "image", "value": image}));
        }
        let state = if success { "successful" } else { "failed" };
        let source = format!("/apis/tekton.dev/v1beta1/namespaces/ci/pipelineruns/{name}");
        let event = json!({
            "specversion": "1.0",
            "id": self.rng.uuid(),
            "source": source,
            "type": format!("dev.tekton.event.pipelinerun.{state}.v1"),
            "subject": name,
            "time": rfc3339(&(finished + Duration::seconds(1))),
            "datacontenttype": "application/json",
            "data": {"pipelineRun": {
                "metadata": {
                    "name": name,
                    "namespace": "ci",
                    "uid": uid,
                    "creationTimestamp": rfc3339(&started),
                    "labels": {
                        "tekton.dev/pipeline": pipeline,
                        "dora-events.dev/deploy": if env.is_some() { "true" } else { "false" },
                        "app.kubernetes.io/part-of": self.p.team,
                    },
                },
                "spec": {"params": params, "pipelineRef": {"name": pipeline}},
                "status": {
                    "startTime": rfc3339(&started),
                    "completionTime": rfc3339(&finished),
                    "conditions": [{
                        "type": "Succeeded",
                        "status": if success { "True" } else { "False" },
                        "reason": if success { "Succeeded" } else { "Failed" },
                        "message": if success { "Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0" } else { "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1" },
                        "lastTransitionTime": rfc3339(&finished),
                    }],
                },
            }},
        });
        self.send(
            finished + Duration::seconds(1),
            "/events",
            vec![("content-type", "application/cloudevents+json".into())],
            event,
        );
    }
}
