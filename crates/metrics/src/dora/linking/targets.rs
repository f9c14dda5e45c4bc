//! Which deployments the linking rules look at (`crate::dora::linking`): production
//! environments, deployments of one service into one environment, the latest of several.

use super::super::facts::{Deployment, DoraConfig};

/// Whether deployments and incidents of `environment` count (empty list = every environment).
pub fn is_production(environment: &str, config: &DoraConfig) -> bool {
    config.production_environments.is_empty()
        || config
            .production_environments
            .iter()
            .any(|e| e == environment)
}

/// The latest of `deployments` (by time, ties by id).
pub(super) fn latest<'a>(
    deployments: impl Iterator<Item = &'a Deployment>,
) -> Option<&'a Deployment> {
    deployments.max_by_key(|d| d.order_key())
}

/// Whether `a` and `b` are deployments of the same service into the same environment.
pub(super) fn same_target(a: &Deployment, b: &Deployment) -> bool {
    a.service == b.service && a.environment == b.environment
}
