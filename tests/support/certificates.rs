//! Certificates for coaps tests, made with the `openssl` command.

/// Runs the `openssl` command line in `dir`; fails the test if it fails.
pub fn openssl(dir: &std::path::Path, args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl command (Debian: openssl)");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA, the host's certificate (for 127.0.0.1) and a client certificate
/// `CN=gateway-7`, all ECDSA P-256 (RFC 7252 §9.1.3.3), in `dir`.
pub fn make_certificates(dir: &std::path::Path) {
    let key = |name: &str| {
        openssl(
            dir,
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                name,
            ],
        )
    };
    key("ca.key");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=test-ca",
            "-days",
            "2",
            "-out",
            "ca.pem",
        ],
    );
    for (name, subject, extension) in [
        ("server", "/CN=coapwasm", "subjectAltName=IP:127.0.0.1"),
        ("client", "/CN=gateway-7", "extendedKeyUsage=clientAuth"),
    ] {
        key(&format!("{name}.key"));
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &format!("{name}.key"),
                "-subj",
                subject,
                "-out",
                &format!("{name}.csr"),
            ],
        );
        std::fs::write(dir.join(format!("{name}.ext")), extension).unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }
}
