//! Deterministic ids for everything the pipeline derives, so that processing an event again
//! (after a crash, or in `recompute`) produces the same rows instead of new ones.

use uuid::Uuid;

/// Namespace of every UUIDv5 dora-events derives.
const DORA_NAMESPACE: Uuid = Uuid::from_u128(0x5d0a_7e1c_4b2f_4c8e_9a61_0d0a_e7e0_0001);

/// A UUIDv5 over the given parts, separated so that ("ab","c") and ("a","bc") differ.
pub fn derived_id(parts: &[&str]) -> String {
    let mut name = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for part in parts {
        name.extend_from_slice(part.as_bytes());
        name.push(0);
    }
    Uuid::new_v5(&DORA_NAMESPACE, &name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_parts_same_id_and_boundaries_matter() {
        assert_eq!(derived_id(&["a", "b"]), derived_id(&["a", "b"]));
        assert_ne!(derived_id(&["ab", "c"]), derived_id(&["a", "bc"]));
    }
}
