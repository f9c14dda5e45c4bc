//! OpenID Connect tokens for ingest: the Kubernetes service-account JWTs that Knative Eventing
//! sources send to an authenticated sink. Part of dora-http's access control: `auth`'s
//! [`Authenticator`](crate::auth::Authenticator) asks [`OidcVerifier::verify`] about an ingest
//! bearer token that no static token matched.
//!
//! A token is accepted when its signature verifies with a key of the issuer's JWKS (RS256,
//! RS384, RS512, ES256 or ES384; never `none` or an HMAC), it has not expired (`exp` is
//! required), `nbf`/`iat` are not in the future (all with `leeway`), `iss` is the issuer, `aud`
//! holds one of the audiences and `sub` is one of the allowed subjects (`prefix*` allowed).
//! The keys are fetched from `jwks_url` or through OpenID discovery, kept, fetched again after
//! `jwks_refresh`, and at once when a token names a key id the set does not have, but never
//! more often than `jwks_min_interval`. Whatever is wrong with a token, it is only refused.
//!
//! The parts: `settings` (`[auth.oidc]` and its checks), `token` (a JWT taken apart and its
//! claims checked), `jwks` (the issuer's keys and signature checks) and `verifier` (the
//! verifier, which keeps the keys and fetches them, through discovery or not).

mod jwks;
mod settings;
#[cfg(test)]
mod tests;
mod token;
mod verifier;

pub use settings::{OidcError, OidcSettings};
pub use token::{check_claims, subject_matches, Algorithm, Claims, Identity, Rejection};
pub use verifier::{OidcStatus, OidcVerifier};
