//! Unit tests of the claims, the token parser, the JWKS reader and discovery.
#![allow(clippy::unwrap_used)]

use super::jwks::{parse_jwks, PublicKey};
use super::token::{Unverified, BASE64URL, MAX_TOKEN_BYTES};
use super::verifier::discovered_jwks_url;
use super::*;
use base64::Engine;
use serde_json::json;
use std::time::Duration;

const NOW: f64 = 1_800_000_000.0;

fn settings() -> OidcSettings {
    OidcSettings::new(
        "https://kubernetes.default.svc.cluster.local",
        vec!["dora-events".into(), "dora-events.dora.svc".into()],
        vec![
            "system:serviceaccount:knative-sources:watcher".into(),
            "system:serviceaccount:dora:*".into(),
        ],
    )
}

fn claims(value: serde_json::Value) -> Claims {
    serde_json::from_value(value).unwrap()
}

fn valid() -> serde_json::Value {
    json!({
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": "system:serviceaccount:knative-sources:watcher",
        "aud": ["other", "dora-events"],
        "exp": NOW + 600.0,
        "nbf": NOW - 10.0,
        "iat": NOW - 10.0,
        "kubernetes.io": {"namespace": "knative-sources"}
    })
}

fn with(field: &str, value: serde_json::Value) -> Claims {
    let mut claims = valid();
    claims[field] = value;
    self::claims(claims)
}

fn without(field: &str) -> Claims {
    let mut claims = valid();
    claims.as_object_mut().unwrap().remove(field);
    self::claims(claims)
}

fn check(claims: &Claims) -> Result<Identity, Rejection> {
    check_claims(claims, &settings(), NOW)
}

#[test]
fn valid_claims_name_the_subject() {
    assert_eq!(
        check(&claims(valid())).unwrap().subject,
        "system:serviceaccount:knative-sources:watcher"
    );
    assert!(check(&with("aud", json!("dora-events.dora.svc"))).is_ok());
    assert!(check(&without("nbf")).is_ok());
    assert!(check(&without("iat")).is_ok());
}

#[test]
fn expiry_is_required_and_allows_the_leeway_only() {
    assert_eq!(check(&without("exp")), Err(Rejection::MissingExpiry));
    assert!(check(&with("exp", json!(NOW - 59.0))).is_ok());
    assert_eq!(
        check(&with("exp", json!(NOW - 60.0))),
        Err(Rejection::Expired)
    );
    assert_eq!(
        check(&with("exp", json!(NOW - 3600.0))),
        Err(Rejection::Expired)
    );
    assert!(
        check_claims(
            &with("exp", json!(NOW - 1.0)),
            &OidcSettings {
                leeway: Duration::ZERO,
                ..settings()
            },
            NOW
        )
        .is_err(),
        "no leeway, no grace"
    );
}

#[test]
fn not_before_and_issued_at_in_the_future_are_refused_beyond_the_leeway() {
    assert!(check(&with("nbf", json!(NOW + 59.0))).is_ok());
    assert_eq!(
        check(&with("nbf", json!(NOW + 61.0))),
        Err(Rejection::NotYetValid)
    );
    assert!(check(&with("iat", json!(NOW + 59.0))).is_ok());
    assert_eq!(
        check(&with("iat", json!(NOW + 3600.0))),
        Err(Rejection::IssuedInFuture)
    );
}

#[test]
fn issuer_must_be_the_configured_one_exactly() {
    for issuer in [
        json!("https://kubernetes.default.svc.cluster.local/"),
        json!("https://evil.example"),
        json!(""),
    ] {
        assert!(matches!(
            check(&with("iss", issuer)),
            Err(Rejection::Issuer(_))
        ));
    }
    assert!(matches!(check(&without("iss")), Err(Rejection::Issuer(_))));
}

#[test]
fn audience_as_string_or_list_must_hold_an_accepted_one() {
    for audience in [
        json!("other"),
        json!(["other", "dora"]),
        json!([]),
        json!("DORA-EVENTS"),
    ] {
        assert_eq!(check(&with("aud", audience)), Err(Rejection::Audience));
    }
    assert_eq!(check(&without("aud")), Err(Rejection::Audience));
    assert!(check(&with("aud", json!(["dora-events"]))).is_ok());
}

#[test]
fn subjects_match_exactly_or_by_a_trailing_wildcard() {
    assert!(check(&with("sub", json!("system:serviceaccount:dora:anything"))).is_ok());
    for subject in [
        "system:serviceaccount:knative-sources:watcher2",
        "system:serviceaccount:dora",
        "system:serviceaccount:doraX:a",
        "system:serviceaccount:knative-sources:*",
        "",
    ] {
        assert!(
            matches!(
                check(&with("sub", json!(subject))),
                Err(Rejection::Subject(_))
            ),
            "{subject}"
        );
    }
    assert!(matches!(check(&without("sub")), Err(Rejection::Subject(_))));
    assert_eq!(
        check(&with("sub", json!("evil\nINFO forged line"))),
        Err(Rejection::Subject("evilINFO forged line".into()))
    );
    assert!(subject_matches("*", "anyone"));
    assert!(!subject_matches("a", "ab"));
}

#[test]
fn settings_need_an_issuer_audiences_and_subjects() {
    assert!(settings().validate().is_ok());
    let broken = [
        OidcSettings {
            subjects: vec![],
            ..settings()
        },
        OidcSettings {
            audiences: vec![],
            ..settings()
        },
        OidcSettings {
            audiences: vec!["".into()],
            ..settings()
        },
        OidcSettings {
            subjects: vec!["system:*:dora".into()],
            ..settings()
        },
        OidcSettings {
            issuer: "kubernetes".into(),
            ..settings()
        },
        OidcSettings {
            jwks_url: Some("file:///etc/passwd".into()),
            ..settings()
        },
    ];
    for settings in broken {
        assert!(settings.validate().is_err(), "{settings:?}");
    }
    // Without discovery, the issuer need not be a URL.
    assert!(OidcSettings {
        issuer: "kubernetes/serviceaccount".into(),
        jwks_url: Some("https://10.0.0.1:6443/openid/v1/jwks".into()),
        ..settings()
    }
    .validate()
    .is_ok());
}

fn encode(value: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[test]
fn only_asymmetric_algorithms_are_accepted() {
    let payload = encode(&valid());
    for alg in ["none", "HS256", "HS512", "PS256", "EdDSA", "rs256"] {
        let token = format!("{}.{payload}.c2ln", encode(&json!({"alg": alg})));
        assert!(
            matches!(Unverified::parse(&token), Err(Rejection::Algorithm(_))),
            "{alg}"
        );
    }
    let unsigned = format!("{}.{payload}.", encode(&json!({"alg": "RS256"})));
    assert!(matches!(
        Unverified::parse(&unsigned),
        Err(Rejection::Malformed)
    ));
    let critical = format!(
        "{}.{payload}.c2ln",
        encode(&json!({"alg": "RS256", "crit": ["exp"]}))
    );
    assert!(matches!(
        Unverified::parse(&critical),
        Err(Rejection::CriticalHeader)
    ));
    let token = format!(
        "{}.{payload}.c2ln",
        encode(&json!({"alg": "ES256", "kid": "k1"}))
    );
    let parsed = Unverified::parse(&token).unwrap();
    assert_eq!(parsed.algorithm, Algorithm::Es256);
    assert_eq!(parsed.key_id.as_deref(), Some("k1"));
    assert_eq!(parsed.signature, b"sig");
    assert!(parsed.signed.ends_with(payload.as_bytes()));
}

#[test]
fn what_is_not_a_jwt_is_malformed() {
    for token in [
        "static-token",
        "a.b",
        "a.b.c.d",
        "...",
        "e30.e30.c2ln",
        "%%%.%%%.%%%",
        "a".repeat(MAX_TOKEN_BYTES + 1).as_str(),
    ] {
        assert!(Unverified::parse(token).is_err(), "{token:.40}");
    }
}

#[test]
fn jwks_keep_signing_keys_of_known_kinds() {
    let n = BASE64URL.encode([0u8, 0xC3, 0x01, 0x02]);
    let coordinate = |len| BASE64URL.encode(vec![7u8; len]);
    let document = json!({"keys": [
        {"kty": "RSA", "kid": "r", "n": n, "e": "AQAB", "alg": "RS256", "use": "sig"},
        {"kty": "RSA", "kid": "enc", "n": n, "e": "AQAB", "use": "enc"},
        {"kty": "EC", "kid": "p256", "crv": "P-256", "x": coordinate(32), "y": coordinate(32)},
        {"kty": "EC", "kid": "short", "crv": "P-256", "x": coordinate(31), "y": coordinate(32)},
        {"kty": "EC", "kid": "p384", "crv": "P-384", "x": coordinate(48), "y": coordinate(48)},
        {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": coordinate(32)},
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}
    ]});
    let keys = parse_jwks(document.to_string().as_bytes()).unwrap();
    let ids: Vec<_> = keys.iter().map(|k| k.key_id.as_deref().unwrap()).collect();
    assert_eq!(ids, ["r", "p256", "p384"]);
    assert_eq!(
        keys[0].key,
        PublicKey::Rsa {
            modulus: vec![0xC3, 1, 2],
            exponent: vec![1, 0, 1]
        }
    );
    assert!(keys[0].fits(Algorithm::Rs256));
    assert!(!keys[0].fits(Algorithm::Rs512), "restricted to its alg");
    assert!(!keys[0].fits(Algorithm::Es256));
    assert!(keys[1].fits(Algorithm::Es256) && !keys[1].fits(Algorithm::Es384));
    assert!(keys[2].fits(Algorithm::Es384));
    assert!(parse_jwks(b"{\"keys\": 3}").is_err());
    assert!(parse_jwks(b"<html>").is_err());
}

#[test]
fn discovery_must_name_the_same_issuer() {
    let issuer = "https://issuer.example";
    let document = json!({"issuer": issuer, "jwks_uri": "https://keys.example/jwks"}).to_string();
    assert_eq!(
        discovered_jwks_url(document.as_bytes(), issuer)
            .unwrap()
            .as_str(),
        "https://keys.example/jwks"
    );
    assert!(discovered_jwks_url(document.as_bytes(), "https://other.example").is_err());
    let document = json!({"issuer": issuer, "jwks_uri": "ftp://keys.example"}).to_string();
    assert!(discovered_jwks_url(document.as_bytes(), issuer).is_err());
}
