//! OpenID Connect tokens for ingest through real HTTP: the test serves an issuer (a discovery
//! document and a JWKS, like a cluster's API server), signs Kubernetes-style service-account
//! tokens with the RSA and ECDSA keys of tests/fixtures/oidc, and checks that the server accepts
//! exactly the right ones, fetches the keys again when they rotate and not on every unknown key.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use dora_http::oidc::OidcSettings;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{json, Value};

use crate::helpers::{cloudevent, fixture_path, poll_until, spawn_with, test_settings, TestApp};
use dora_testkit::Backend;

const AUDIENCE: &str = "dora-events";
const SUBJECT: &str = "system:serviceaccount:knative-sources:dora-watcher";
/// Allowed by the wildcard `system:serviceaccount:ci:*`.
const CI_SUBJECT: &str = "system:serviceaccount:ci:deployer";
const READ: &str = "read-token-for-oidc-tests";
const STATIC_INGEST: &str = "static-ingest-token-for-oidc-tests";
/// What the issuer's JWKS endpoint requires, as a cluster's API server does.
const JWKS_READER: &str = "jwks-reader-token";

/// A test key: signs tokens, and is published in the JWKS as `jwk`.
struct TestKey {
    kid: String,
    signer: Signer,
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, &'static str),
}

/// The DER inside a PEM fixture.
fn pem_der(file: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(fixture_path(&format!("oidc/{file}"))).unwrap();
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl TestKey {
    fn rsa(file: &str, kid: &str) -> Self {
        Self {
            kid: kid.into(),
            signer: Signer::Rsa(RsaKeyPair::from_pkcs8(&pem_der(file)).unwrap()),
        }
    }

    fn ec(file: &str, kid: &str, alg: &'static str) -> Self {
        let algorithm = match alg {
            "ES256" => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            _ => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        };
        let pair =
            EcdsaKeyPair::from_pkcs8(algorithm, &pem_der(file), &SystemRandom::new()).unwrap();
        Self {
            kid: kid.into(),
            signer: Signer::Ec(pair, alg),
        }
    }

    /// The public half, as a JWKS entry (as Kubernetes publishes it: with `alg` and `use`).
    fn jwk(&self) -> Value {
        match &self.signer {
            Signer::Rsa(pair) => {
                let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                json!({"kty": "RSA", "kid": self.kid, "use": "sig", "n": b64(&public.n), "e": b64(&public.e)})
            }
            Signer::Ec(pair, alg) => {
                let point = pair.public_key().as_ref();
                let size = (point.len() - 1) / 2;
                let curve = if *alg == "ES256" { "P-256" } else { "P-384" };
                json!({
                    "kty": "EC", "kid": self.kid, "use": "sig", "alg": alg, "crv": curve,
                    "x": b64(&point[1..1 + size]), "y": b64(&point[1 + size..])
                })
            }
        }
    }

    /// A token over `claims` with this key's id, signed with `alg`.
    fn sign(&self, alg: &str, claims: &Value) -> String {
        self.sign_with_header(&json!({"alg": alg, "kid": self.kid, "typ": "JWT"}), claims)
    }

    fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let signed = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let rng = SystemRandom::new();
        let signature = match &self.signer {
            Signer::Rsa(pair) => {
                let encoding = match header["alg"].as_str().unwrap() {
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(encoding, &rng, signed.as_bytes(), &mut signature)
                    .unwrap();
                signature
            }
            Signer::Ec(pair, _) => pair
                .sign(&rng, signed.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
        };
        format!("{signed}.{}", b64(signature))
    }
}

/// The issuer the test runs: discovery at `/.well-known/openid-configuration`, keys at
/// `/openid/v1/jwks` (only with `Bearer JWKS_READER`).
struct Issuer {
    url: String,
    state: IssuerState,
}

#[derive(Clone, Default)]
struct IssuerState {
    url: Arc<Mutex<String>>,
    keys: Arc<Mutex<Vec<Value>>>,
    /// Successful JWKS fetches.
    fetches: Arc<AtomicUsize>,
    /// JWKS requests without the right bearer token.
    unauthorized: Arc<AtomicUsize>,
}

async fn discovery(State(state): State<IssuerState>) -> Json<Value> {
    let url = state.url.lock().unwrap().clone();
    Json(json!({
        "issuer": url,
        "jwks_uri": format!("{url}/openid/v1/jwks"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"]
    }))
}

async fn jwks(State(state): State<IssuerState>, headers: HeaderMap) -> Response {
    let authorized = headers
        .get("authorization")
        .is_some_and(|value| value == format!("Bearer {JWKS_READER}").as_str());
    if !authorized {
        state.unauthorized.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED.into_response();
    }
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let keys = state.keys.lock().unwrap().clone();
    Json(json!({ "keys": keys })).into_response()
}

impl Issuer {
    async fn start(keys: &[&TestKey]) -> Self {
        let state = IssuerState::default();
        *state.keys.lock().unwrap() = keys.iter().map(|k| k.jwk()).collect();
        let router = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(discovery),
            )
            .route("/openid/v1/jwks", axum::routing::get(jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *state.url.lock().unwrap() = url.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, state }
    }

    fn publish(&self, key: &TestKey) {
        self.state.keys.lock().unwrap().push(key.jwk());
    }

    fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// Service-account claims for `SUBJECT`, valid for ten minutes.
    fn claims(&self) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        json!({
            "iss": self.url,
            "sub": SUBJECT,
            "aud": [AUDIENCE],
            "exp": now + 600,
            "iat": now,
            "nbf": now,
            "kubernetes.io": {
                "namespace": "knative-sources",
                "serviceaccount": {"name": "dora-watcher", "uid": "8d3b0c3e-0000-4000-8000-000000000001"}
            }
        })
    }

    fn claims_with(&self, field: &str, value: Value) -> Value {
        let mut claims = self.claims();
        claims[field] = value;
        claims
    }
}

/// A server whose ingest takes the issuer's tokens (through discovery) and whose reading needs
/// `READ`; `adjust` changes the OIDC settings.
async fn spawn_oidc(
    backend: &Backend,
    issuer: &Issuer,
    adjust: impl FnOnce(&mut OidcSettings, &mut dora_events::config::Settings),
) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{JWKS_READER}\n")).unwrap();
    let db = backend.fresh_database().await;
    let mut settings = test_settings(&db);
    settings.auth.read_tokens = vec![READ.into()];
    let mut oidc = OidcSettings::new(
        issuer.url.clone(),
        vec![AUDIENCE.into(), "https://dora-events.dora.svc".into()],
        vec![SUBJECT.into(), "system:serviceaccount:ci:*".into()],
    );
    oidc.jwks_token_file = Some(token_file);
    oidc.jwks_min_interval = Duration::from_millis(100);
    adjust(&mut oidc, &mut settings);
    settings.auth.oidc = Some(oidc);
    (spawn_with(settings, db).await, dir)
}

/// Posts one CloudEvent to `/events` with `token` as the bearer token.
async fn post_with(app: &TestApp, token: &str, id: &str) -> reqwest::Response {
    app.client
        .post(app.url("/events"))
        .bearer_auth(token)
        .header("content-type", "application/cloudevents+json")
        .body(cloudevent(id).to_string())
        .send()
        .await
        .unwrap()
}

async fn raw_events(app: &TestApp) -> i64 {
    app.raw_events_with(READ).await
}

/// Asserts `401` with `error="invalid_token"` (an unknown token, never a 500).
async fn assert_refused(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 401, "{what}");
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("invalid_token"), "{what}: {challenge}");
}

/// RS256, RS384, RS512, ES256 and ES384 tokens of allowed subjects are accepted on every ingest
/// route; the keys come through discovery with the JWKS reader token; `/readyz` and the
/// description say so.
async fn oidc_tokens_of_rsa_and_ecdsa_keys_are_accepted_for_ingest(backend: Backend) {
    let rsa = TestKey::rsa("rsa-2048.pem", "rsa-1");
    let p256 = TestKey::ec("ec-p256.pem", "ec-256", "ES256");
    let p384 = TestKey::ec("ec-p384.pem", "ec-384", "ES384");
    let issuer = Issuer::start(&[&rsa, &p256, &p384]).await;
    let (app, _dir) = spawn_oidc(&backend, &issuer, |_, _| {}).await;

    let signed = [
        (&rsa, "RS256"),
        (&rsa, "RS384"),
        (&rsa, "RS512"),
        (&p256, "ES256"),
        (&p384, "ES384"),
    ];
    for (n, (key, alg)) in signed.iter().enumerate() {
        let token = key.sign(alg, &issuer.claims());
        let response = post_with(&app, &token, &format!("oidc-{n}")).await;
        assert_eq!(
            response.status(),
            202,
            "{alg}: {}",
            response.text().await.unwrap()
        );
    }
    // A wildcard subject, `aud` as a plain string holding the second audience, other routes.
    let mut ci_claims = issuer.claims_with("sub", json!(CI_SUBJECT));
    ci_claims["aud"] = json!("https://dora-events.dora.svc");
    let ci = rsa.sign("RS256", &ci_claims);
    assert_eq!(post_with(&app, &ci, "oidc-ci").await.status(), 202);
    let token = p256.sign("ES256", &issuer.claims());
    for path in ["/", "/cdevents"] {
        let (body, content_type) = if path == "/" {
            (
                cloudevent("oidc-root").to_string(),
                "application/cloudevents+json",
            )
        } else {
            let cdevent = fixture_path("cdevents-spec/v0.5.1/conformance/service_deployed.json");
            (
                std::fs::read_to_string(cdevent).unwrap(),
                "application/json",
            )
        };
        let response = app
            .client
            .post(app.url(path))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            202,
            "{path}: {}",
            response.text().await.unwrap()
        );
    }
    assert_eq!(raw_events(&app).await, 8);
    assert_eq!(
        issuer.state.unauthorized.load(Ordering::SeqCst),
        0,
        "the JWKS was fetched with the reader token"
    );
    assert!(issuer.fetches() >= 1);

    let ready = app.get_json("/readyz").await;
    assert_eq!(ready["auth"]["ingest"], "tokens");
    assert_eq!(ready["auth"]["oidc"], json!({"keys": 3, "jwks": "fetched"}));
    assert_eq!(ready["auth"]["warnings"], json!([]), "ingest is not open");
    let description = app.get_json("/openapi.json").await;
    let scheme = &description["components"]["securitySchemes"]["bearer"];
    assert!(
        scheme["description"]
            .as_str()
            .unwrap()
            .contains("OpenID Connect"),
        "{scheme}"
    );
    assert_eq!(
        description["paths"]["/events"]["post"]["security"],
        json!([{"bearer": ["ingest"]}])
    );
    app.stop().await;
}

/// Expired, not yet valid, issued in the future, without expiry, for another audience, of
/// another issuer or of a subject not allowed: 401, nothing stored; the same claims made valid
/// are accepted (the refusals are the claims', not the setup's).
async fn oidc_tokens_with_wrong_claims_are_refused(backend: Backend) {
    let rsa = TestKey::rsa("rsa-2048.pem", "rsa-1");
    let issuer = Issuer::start(&[&rsa]).await;
    let (app, _dir) = spawn_oidc(&backend, &issuer, |_, _| {}).await;
    let now = issuer.claims()["iat"].as_u64().unwrap();
    let mut without_expiry = issuer.claims();
    without_expiry.as_object_mut().unwrap().remove("exp");
    let wrong = [
        ("expired", issuer.claims_with("exp", json!(now - 3600))),
        (
            "expired beyond the leeway",
            issuer.claims_with("exp", json!(now - 61)),
        ),
        ("no expiry", without_expiry),
        (
            "not valid yet",
            issuer.claims_with("nbf", json!(now + 3600)),
        ),
        (
            "issued in the future",
            issuer.claims_with("iat", json!(now + 3600)),
        ),
        (
            "another audience",
            issuer.claims_with("aud", json!(["kubernetes"])),
        ),
        ("audience string", issuer.claims_with("aud", json!("dora"))),
        ("no audience", issuer.claims_with("aud", json!([]))),
        (
            "another issuer",
            issuer.claims_with("iss", json!("https://kubernetes.default.svc.cluster.local")),
        ),
        (
            "issuer with a trailing slash",
            issuer.claims_with("iss", json!(format!("{}/", issuer.url))),
        ),
        (
            "another service account",
            issuer.claims_with("sub", json!("system:serviceaccount:knative-sources:other")),
        ),
        (
            "a longer name",
            issuer.claims_with("sub", json!(format!("{SUBJECT}-2"))),
        ),
        (
            "outside the wildcard",
            issuer.claims_with("sub", json!("system:serviceaccount:cix:deployer")),
        ),
    ];
    for (what, claims) in &wrong {
        let token = rsa.sign("RS256", claims);
        assert_refused(post_with(&app, &token, what).await, what).await;
    }
    assert_eq!(raw_events(&app).await, 0, "nothing refused was stored");
    let leeway = issuer.claims_with("exp", json!(now - 30));
    let response = post_with(&app, &rsa.sign("RS256", &leeway), "within-leeway").await;
    assert_eq!(
        response.status(),
        202,
        "expired 30 s ago, within the 60 s leeway"
    );
    assert_eq!(raw_events(&app).await, 1);
    app.stop().await;
}

/// `alg: none`, HS256 signed with the public key, a key the JWKS does not have, a key of
/// another kind under a known key id, a changed payload, and what is not a JWT: 401 (never 500).
/// A valid OIDC token grants nothing on the read routes.
async fn forged_and_unknown_oidc_tokens_are_refused(backend: Backend) {
    let rsa = TestKey::rsa("rsa-2048.pem", "rsa-1");
    let p256 = TestKey::ec("ec-p256.pem", "ec-256", "ES256");
    let stranger = TestKey::rsa("rsa-2048-other.pem", "rsa-9");
    let issuer = Issuer::start(&[&rsa, &p256]).await;
    let (app, _dir) = spawn_oidc(&backend, &issuer, |_, _| {}).await;
    let claims = issuer.claims();
    let body = b64(claims.to_string());

    let unsigned_header = b64(json!({"alg": "none", "kid": "rsa-1"}).to_string());
    let valid = rsa.sign("RS256", &claims);
    let valid_signature = valid.rsplit('.').next().unwrap();
    // HS256 with the public key as the secret (the classic algorithm confusion).
    let Signer::Rsa(pair) = &rsa.signer else {
        unreachable!()
    };
    let hmac_header = b64(json!({"alg": "HS256", "kid": "rsa-1"}).to_string());
    let hmac_signed = format!("{hmac_header}.{body}");
    let mut hmac_tokens = Vec::new();
    for secret in [
        pair.public().as_ref().to_vec(),
        rsa.jwk().to_string().into_bytes(),
        rsa.jwk()["n"].as_str().unwrap().as_bytes().to_vec(),
    ] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let tag = ring::hmac::sign(&key, hmac_signed.as_bytes());
        hmac_tokens.push(format!("{hmac_signed}.{}", b64(tag)));
    }
    let mut changed = claims.clone();
    changed["sub"] = json!(CI_SUBJECT);
    let forged = [
        ("alg none", format!("{unsigned_header}.{body}.")),
        (
            "alg none with a signature",
            format!("{unsigned_header}.{body}.{valid_signature}"),
        ),
        ("HS256 with the public key", hmac_tokens[0].clone()),
        ("HS256 with the JWK", hmac_tokens[1].clone()),
        ("HS256 with the modulus", hmac_tokens[2].clone()),
        ("unknown key id", stranger.sign("RS256", &claims)),
        (
            "unknown key under a known key id",
            stranger.sign_with_header(&json!({"alg": "RS256", "kid": "rsa-1"}), &claims),
        ),
        (
            "no key id, signed by a stranger",
            stranger.sign_with_header(&json!({"alg": "RS256"}), &claims),
        ),
        (
            "ES256 under the RSA key's id",
            p256.sign_with_header(&json!({"alg": "ES256", "kid": "rsa-1"}), &claims),
        ),
        (
            "RS256 under the EC key's id",
            rsa.sign_with_header(&json!({"alg": "RS256", "kid": "ec-256"}), &claims),
        ),
        (
            "changed payload",
            format!(
                "{}.{}.{valid_signature}",
                valid.split('.').next().unwrap(),
                b64(changed.to_string())
            ),
        ),
        ("not a JWT", "a.b.c".to_owned()),
        ("two parts", "eyJhbGciOiJSUzI1NiJ9.e30".to_owned()),
        (
            "huge",
            format!("{}.{body}.{valid_signature}", "A".repeat(40_000)),
        ),
    ];
    for (what, token) in &forged {
        assert_refused(post_with(&app, token, what).await, what).await;
    }
    assert_eq!(raw_events(&app).await, 0, "no forgery was stored");
    // Without a key id, the key that fits is found.
    let no_kid = rsa.sign_with_header(&json!({"alg": "RS256"}), &claims);
    assert_eq!(post_with(&app, &no_kid, "no-kid").await.status(), 202);

    // A valid token is an ingest credential only.
    for path in ["/api/v1/dora", "/api/v1/events", "/metrics"] {
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(&valid)
            .send()
            .await
            .unwrap();
        assert_refused(response, path).await;
    }
    assert_eq!(post_with(&app, &valid, "valid").await.status(), 202);
    assert_eq!(raw_events(&app).await, 2);
    app.stop().await;
}

/// The JWKS starts without a key; once the issuer publishes it, a token naming it is accepted
/// after the refresh its unknown key id triggers (well before `jwks_refresh`, five minutes).
async fn a_rotated_in_oidc_key_is_accepted_after_a_refresh(backend: Backend) {
    let old = TestKey::rsa("rsa-2048.pem", "rsa-1");
    let new = TestKey::rsa("rsa-2048-other.pem", "rsa-2");
    let issuer = Issuer::start(&[&old]).await;
    let (app, _dir) = spawn_oidc(&backend, &issuer, |_, _| {}).await;
    assert_eq!(
        post_with(&app, &old.sign("RS256", &issuer.claims()), "old")
            .await
            .status(),
        202
    );
    let token = new.sign("RS256", &issuer.claims());
    assert_refused(post_with(&app, &token, "before").await, "not published yet").await;

    issuer.publish(&new);
    let mut attempt = 0;
    poll_until(Duration::from_secs(10), || {
        attempt += 1;
        let id = format!("after-{attempt}");
        let token = token.clone();
        let app = &app;
        async move {
            let status = post_with(app, &token, &id).await.status();
            assert!(status == 202 || status == 401, "{status}");
            (status == 202).then_some(())
        }
    })
    .await;
    assert_eq!(app.get_json("/readyz").await["auth"]["oidc"]["keys"], 2);
    app.stop().await;
}

/// Tokens naming key ids the issuer does not have do not make the server fetch the keys for
/// each of them: at most once per `jwks_min_interval` (an hour here), however many arrive.
async fn unknown_oidc_key_ids_do_not_flood_the_issuer(backend: Backend) {
    let rsa = TestKey::rsa("rsa-2048.pem", "rsa-1");
    let issuer = Issuer::start(&[&rsa]).await;
    let (app, _dir) = spawn_oidc(&backend, &issuer, |oidc, _| {
        oidc.jwks_min_interval = Duration::from_secs(3600);
    })
    .await;
    assert_eq!(
        post_with(&app, &rsa.sign("RS256", &issuer.claims()), "known")
            .await
            .status(),
        202
    );
    let fetched = issuer.fetches();
    assert_eq!(fetched, 1, "one fetch for the start and the first token");
    let claims = issuer.claims();
    let flood = (0..40).map(|n| {
        let token =
            rsa.sign_with_header(&json!({"alg": "RS256", "kid": format!("k-{n}")}), &claims);
        let app = &app;
        async move { post_with(app, &token, &format!("flood-{n}")).await.status() }
    });
    for status in futures_util::future::join_all(flood).await {
        assert_eq!(status, 401);
    }
    assert_eq!(
        issuer.fetches(),
        fetched,
        "no fetch within jwks_min_interval"
    );
    app.stop().await;
}

/// An issuer that cannot be reached refuses its tokens with 401 (not 500) and says so on
/// `/readyz`, while static ingest tokens keep working.
async fn an_unreachable_oidc_issuer_refuses_its_tokens_only(backend: Backend) {
    let closed: SocketAddr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let rsa = TestKey::rsa("rsa-2048.pem", "rsa-1");
    let issuer = Issuer::start(&[&rsa]).await;
    let (app, _dir) = spawn_oidc(&backend, &issuer, |oidc, settings| {
        oidc.jwks_url = Some(format!("http://{closed}/openid/v1/jwks"));
        settings.auth.ingest_tokens = vec![STATIC_INGEST.into()];
    })
    .await;
    let token = rsa.sign("RS256", &issuer.claims());
    assert_refused(post_with(&app, &token, "oidc").await, "keys unavailable").await;
    assert_eq!(post_with(&app, STATIC_INGEST, "static").await.status(), 202);
    let ready = app.get_json("/readyz").await;
    assert_eq!(ready["auth"]["oidc"], json!({"keys": 0, "jwks": "failing"}));
    assert_eq!(issuer.fetches(), 0);
    app.stop().await;
}

backend_tests!(
    oidc_tokens_of_rsa_and_ecdsa_keys_are_accepted_for_ingest,
    oidc_tokens_with_wrong_claims_are_refused,
    forged_and_unknown_oidc_tokens_are_refused,
    a_rotated_in_oidc_key_is_accepted_after_a_refresh,
    unknown_oidc_key_ids_do_not_flood_the_issuer,
    an_unreachable_oidc_issuer_refuses_its_tokens_only,
);
