//! Small vocabularies of the DORA metrics shared across the pipeline (calculators -> link
//! tables -> keys -> API): what a deployment CDEvent did, what an observation is about, and the
//! calendar buckets of time series. Each has one text form, the one stored and the one in URLs.

use serde::{Deserialize, Serialize};

/// What a deployment did, from the CDEvent that reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentKind {
    /// `service.deployed`.
    Deployed,
    /// `service.upgraded`.
    Upgraded,
    /// `service.rolledback`: this rollout rolled back the deployment before it.
    Rolledback,
}

impl DeploymentKind {
    /// From the predicate of a `service.*` CDEvent (and the stored text): `deployed`,
    /// `upgraded` or `rolledback`.
    pub fn parse(text: &str) -> Option<DeploymentKind> {
        match text {
            "deployed" => Some(DeploymentKind::Deployed),
            "upgraded" => Some(DeploymentKind::Upgraded),
            "rolledback" => Some(DeploymentKind::Rolledback),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentKind::Deployed => "deployed",
            DeploymentKind::Upgraded => "upgraded",
            DeploymentKind::Rolledback => "rolledback",
        }
    }
}

/// Reads a stored `deployments.kind`; the error names the text that is no kind.
impl TryFrom<String> for DeploymentKind {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text).ok_or_else(|| format!("unknown deployment kind {text:?}"))
    }
}

/// What an observation is about: the `fact` column of a stored observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FactKind {
    /// A change (pull/merge request, push), by its CDEvent subject id.
    Change,
    /// An incident, by its CDEvent subject id.
    Incident,
}

impl FactKind {
    /// `change` or `incident`.
    pub fn parse(text: &str) -> Option<FactKind> {
        match text {
            "change" => Some(FactKind::Change),
            "incident" => Some(FactKind::Incident),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::Change => "change",
            FactKind::Incident => "incident",
        }
    }
}

/// Calendar bucket of a time series, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Day,
    /// ISO week, from Monday 00:00 UTC.
    Week,
    Month,
    Year,
}

impl Bucket {
    /// `day`, `week`, `month` or `year`.
    pub fn parse(text: &str) -> Option<Bucket> {
        match text {
            "day" => Some(Bucket::Day),
            "week" => Some(Bucket::Week),
            "month" => Some(Bucket::Month),
            "year" => Some(Bucket::Year),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
            Bucket::Year => "year",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip_and_match_serde() {
        for kind in [
            DeploymentKind::Deployed,
            DeploymentKind::Upgraded,
            DeploymentKind::Rolledback,
        ] {
            assert_eq!(DeploymentKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        for kind in [FactKind::Change, FactKind::Incident] {
            assert_eq!(FactKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        for bucket in [Bucket::Day, Bucket::Week, Bucket::Month, Bucket::Year] {
            assert_eq!(Bucket::parse(bucket.as_str()), Some(bucket));
            let json = serde_json::to_string(&bucket).unwrap();
            assert_eq!(json, format!("\"{}\"", bucket.as_str()));
        }
        assert_eq!(Bucket::parse("fortnight"), None);
    }
}
