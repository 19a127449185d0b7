//! TLS: certificates made here with rcgen (a test CA, and leaves that are good, expired,
//! for another host, or self-signed), served by a loopback rustls server. A bad
//! certificate is a typed error that is not retried; the CA given as an extra root is
//! trusted; an `https` API never follows a redirect to `http`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

use apify_core::client::Environment;
use apify_core::error::TransportErrorKind;
use apify_core::net::RootCertificate;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::net::answer;
use super::{Feature, FeatureScenario, Mode, NetSettings, Outcome, Step, Target, client_on, ensure};
use crate::raw::{HttpReader, RawServer};
use crate::{Reply, ScriptedServer};

pub(crate) fn scenarios<D: Environment, M: Mode<D>>() -> Vec<FeatureScenario<D, M>> {
    vec![
        ("TLS: an added root is trusted", &[Feature::Tls], custom_root),
        ("TLS: bad certificates are typed, not retried", &[Feature::Tls], bad_certificates),
        ("TLS: no redirect from https to http", &[Feature::Tls], no_downgrade),
    ]
}

/// A leaf certificate and its key.
#[derive(Clone)]
pub(crate) struct Leaf {
    pub(crate) cert: CertificateDer<'static>,
    key: Arc<Vec<u8>>,
}

/// The test CA and the leaves it (or nobody) signed.
pub(crate) struct Pki {
    pub(crate) root: RootCertificate,
    pub(crate) good: Leaf,
    expired: Leaf,
    other_host: Leaf,
    self_signed: Leaf,
}

fn leaf_params(names: &[&str], ip: bool) -> CertificateParams {
    let mut p = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("certificate names: {e}"));
    if ip {
        p.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
    p
}

/// Made once per process: key generation is the slow part.
pub(crate) fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "apify conformance test CA");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA certificate");
        let signed = |params: CertificateParams| {
            let key = KeyPair::generate().expect("leaf key");
            let cert = params.signed_by(&key, &ca).expect("leaf certificate");
            Leaf { cert: cert.der().clone(), key: Arc::new(key.serialize_der()) }
        };
        let mut expired = leaf_params(&["localhost"], true);
        expired.not_before = rcgen::date_time_ymd(2000, 1, 1);
        expired.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let self_signed = {
            let key = KeyPair::generate().expect("leaf key");
            let cert = leaf_params(&["localhost"], true).self_signed(&key).expect("self-signed certificate");
            Leaf { cert: cert.der().clone(), key: Arc::new(key.serialize_der()) }
        };
        Pki {
            root: RootCertificate::from_der(ca.der().to_vec()),
            good: signed(leaf_params(&["localhost"], true)),
            expired: signed(expired),
            other_host: signed(leaf_params(&["other.example"], false)),
            self_signed,
        }
    })
}

/// A rustls server configuration presenting `leaf`, speaking HTTP/1.1 (`alpn`: the
/// protocols to offer by ALPN).
pub(crate) fn server_config(leaf: &Leaf, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.as_ref().clone()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.cert.clone()], key)
        .expect("server certificate");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// An HTTPS server on a raw socket: each connection's TLS handshake, then `serve`.
pub(crate) fn tls_server(
    leaf: &Leaf,
    serve: impl Fn(&mut HttpReader<rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>>)
    + Send
    + Sync
    + 'static,
) -> RawServer {
    let config = server_config(leaf, &[b"http/1.1"]);
    RawServer::start(move |_, stream| {
        let Ok(conn) = rustls::ServerConnection::new(config.clone()) else { return };
        let mut r = HttpReader::new(rustls::StreamOwned::new(conn, stream));
        serve(&mut r);
    })
}

fn https(server: &RawServer) -> String {
    format!("https://{}", server.addr())
}

fn with_root() -> NetSettings {
    NetSettings { roots: vec![pki().root.clone()], ..NetSettings::default() }
}

fn custom_root<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let server = tls_server(&pki().good, |r| while answer(r) {});
    let c = client_on(t, &https(&server), &with_root(), |c| c);
    let got = t.mode.call(c.dataset("d").get()).step("get over TLS")?.ok_or("no dataset")?;
    ensure!(got.id == "d", "{}", got.id);
    // The same server without the root: untrusted.
    let c = client_on(t, &https(&server), &NetSettings::default(), |c| c);
    let err = t.mode.call(c.dataset("d").get()).err().ok_or("an unknown CA was trusted")?;
    ensure!(err.transport_error().map(|e| e.kind()) == Some(TransportErrorKind::Tls), "{err:?}");
    Ok(())
}

fn bad_certificates<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let p = pki();
    for (what, leaf) in [("self-signed", &p.self_signed), ("expired", &p.expired), ("other host's", &p.other_host)] {
        let server = tls_server(leaf, |r| while answer(r) {});
        let c = client_on(t, &https(&server), &with_root(), |c| c);
        let err =
            t.mode.call(c.dataset("d").get()).err().ok_or_else(|| format!("a {what} certificate was accepted"))?;
        let kind = err.transport_error().map(|e| e.kind());
        ensure!(kind == Some(TransportErrorKind::Tls), "{what}: {err:?}");
        ensure!(err.attempts() == Some(1), "{what}: {:?} attempts", err.attempts());
        ensure!(server.connections() == 1, "{what}: {} connections (retried)", server.connections());
    }
    Ok(())
}

fn no_downgrade<D: Environment, M: Mode<D>>(t: &Target<D, M>) -> Outcome {
    let plain = ScriptedServer::start();
    plain.set_fallback(|_| Reply::json(200, super::wire::dataset_json("d")));
    let to = plain.url("/v2/datasets/d");
    let server = tls_server(&pki().good, move |r| {
        while let Ok(Some(_)) = r.head() {
            if r.respond(302, &[("location", &to)], b"").is_err() {
                return;
            }
        }
    });
    let c = client_on(t, &https(&server), &with_root(), |c| c);
    let err = t.mode.call(c.dataset("d").get()).err().ok_or("followed https to http")?;
    ensure!(err.transport_error().map(|e| e.kind()) == Some(TransportErrorKind::Redirect), "{err:?}");
    ensure!(plain.request_count() == 0, "the http server was asked");
    Ok(())
}
