//! Alertmanager and PagerDuty webhooks.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::demo::history::*;
use crate::demo::random::SplitMix64;
use crate::demo::Delivery;

impl ServiceHistory {
    pub(crate) fn alertmanager(
        &mut self,
        detected: DateTime<Utc>,
        resolved: Option<DateTime<Utc>>,
    ) {
        let fingerprint = self.rng.hex(16);
        let alertname = *self
            .rng
            .pick(&["HighErrorRate", "LatencySLOBurn", "PodCrashLooping"]);
        let service = self.p.service;
        let labels = json!({
            "alertname": alertname,
            "service": service,
            "environment": "production",
            "namespace": service,
            "severity": "critical",
        });
        let summary = format!("{alertname} on {service} in production");
        for (status, at, ends) in [
            ("firing", Some(detected), None),
            ("resolved", resolved, resolved),
        ] {
            let Some(at) = at else { continue };
            let payload = json!({
                "receiver": "dora-events",
                "status": status,
                "alerts": [{
                    "status": status,
                    "labels": labels,
                    "annotations": {"summary": summary, "runbook_url": format!("https://runbooks.acme.example/{alertname}")},
                    "startsAt": rfc3339(&detected),
                    "endsAt": ends.map(|t| rfc3339(&t)).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
                    "generatorURL": "http://prometheus.monitoring.svc:9090/graph",
                    "fingerprint": fingerprint,
                }],
                "groupLabels": {"alertname": alertname},
                "commonLabels": labels,
                "commonAnnotations": {"summary": summary},
                "externalURL": "http://alertmanager.monitoring.svc:9093",
                "version": "4",
                "groupKey": format!("{{}}:{{alertname=\"{alertname}\"}}"),
                "truncatedAlerts": 0,
            });
            self.send(
                at + Duration::seconds(30),
                "/webhooks/alertmanager",
                vec![("content-type", "application/json".into())],
                payload,
            );
        }
    }

    pub(crate) fn pagerduty(
        &mut self,
        service: &str,
        detected: DateTime<Utc>,
        resolved: Option<DateTime<Utc>>,
        title: &str,
    ) {
        pagerduty(
            &mut self.rng,
            &mut self.out,
            self.end,
            service,
            detected,
            resolved,
            title,
        );
    }
}

/// A PagerDuty incident: triggered, and resolved unless still open at the end.
pub(crate) fn pagerduty(
    rng: &mut SplitMix64,
    out: &mut Vec<Delivery>,
    end: DateTime<Utc>,
    service: &str,
    detected: DateTime<Utc>,
    resolved: Option<DateTime<Utc>>,
    title: &str,
) {
    let incident = format!("Q{}", rng.hex(13).to_uppercase());
    let service_id = format!(
        "P{}",
        &service.to_uppercase().replace('-', "")[..5.min(service.len())]
    );
    let number = rng.between(1000, 9999);
    for (event_type, at) in [
        ("incident.triggered", Some(detected)),
        ("incident.resolved", resolved),
    ] {
        let Some(at) = at else { continue };
        if at >= end {
            continue;
        }
        let status = if event_type == "incident.triggered" {
            "triggered"
        } else {
            "resolved"
        };
        let payload = json!({"event": {
            "id": format!("01{}", rng.hex(24).to_uppercase()),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": rfc3339(&at),
            "agent": {"type": "service_reference", "id": service_id, "summary": service},
            "data": {
                "id": incident,
                "type": "incident",
                "html_url": format!("https://acme.pagerduty.com/incidents/{incident}"),
                "number": number,
                "status": status,
                "title": title,
                "service": {"id": service_id, "summary": service, "type": "service_reference"},
                "urgency": "high",
                "priority": {"summary": "P2"},
            },
        }});
        out.push(Delivery {
            at,
            path: "/webhooks/pagerduty",
            headers: vec![("content-type", "application/json".into())],
            body: payload.to_string(),
        });
    }
}
