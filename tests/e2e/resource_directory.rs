//! Registration with a Resource Directory (RFC 9176), against real
//! directories: aiocoap's `aiocoap-rd` (registration, update, removal and the
//! lookup interfaces) and libcoap's `coap-rd-notls` (registration only: its
//! 4.3.1 has no lookup interface, answers a registration update 4.05 and
//! crashes on a removal, so only registration is tried with it).
//!
//! Hosts run on 127.0.0.2, .3 and .4 so that each one's base URI differs in
//! its address, as on a real network. Lookups (`rd-lookup/res`, §6) go
//! through the lookup resources the directory's own discovery names.

use coapwasm_tests::resource_directory::{Implementation, ResourceDirectory};
use coapwasm_tests::{CoapClient, Server, artifacts, link_format};
use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

/// How long a host may take to register (or register anew) once the
/// directory is up: far beyond the one round trip a working host needs.
const REGISTER_WAIT: Duration = Duration::from_secs(15);

/// A host serving `temperature` on `ip`, registering as `endpoint`.
fn host(directory: &str, ip: &str, endpoint: &str) -> Server {
    Server::builder()
        .plugins(&["temperature"])
        .binds(&[&format!("{ip}:0")])
        .arg("--rd")
        .arg(directory)
        .arg("--endpoint")
        .arg(endpoint)
        .start()
}

fn targets(links: &[link_format::Link]) -> BTreeSet<String> {
    links.iter().map(|link| link.target.clone()).collect()
}

/// The endpoint names an endpoint lookup lists, with their base URIs.
fn endpoints(rd: &ResourceDirectory, lookup: &str) -> BTreeSet<(String, String)> {
    rd.links(lookup)
        .iter()
        .map(|link| {
            (
                link.value("ep").unwrap_or_default().to_owned(),
                link.value("base").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn three_hosts_register_plugins_coming_and_going_reregister_and_sigterm_removes() {
    let rd = ResourceDirectory::start(Implementation::Aiocoap);
    let resource_lookup = rd.discover("core.rd-lookup-res");
    let endpoint_lookup = rd.discover("core.rd-lookup-ep");
    let mut hosts: Vec<Server> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .iter()
        .enumerate()
        .map(|(n, ip)| host(&rd.base(), ip, &format!("host-{n}")))
        .collect();

    // A lookup finds every host's /temperature, resolved against its base.
    let every_temperature: BTreeSet<String> = hosts
        .iter()
        .map(|host| format!("coap://{}/temperature", host.addr()))
        .collect();
    rd.await_links(
        &format!("{resource_lookup}?rt=temperature-celsius"),
        REGISTER_WAIT,
        "every host's /temperature in a lookup",
        |links| targets(links) == every_temperature,
    );
    let registered: BTreeSet<(String, String)> = hosts
        .iter()
        .enumerate()
        .map(|(n, host)| (format!("host-{n}"), format!("coap://{}", host.addr())))
        .collect();
    assert_eq!(endpoints(&rd, &endpoint_lookup), registered);

    // A plugin added to host-0 shows in lookups; removed, it is gone.
    let humidity = hosts[0].plugins_folder().file("humidity.wasm");
    std::fs::copy(artifacts::plugin("humidity.wasm"), &humidity).unwrap();
    let host_0_humidity = BTreeSet::from([format!("coap://{}/humidity", hosts[0].addr())]);
    rd.await_links(
        &format!("{resource_lookup}?rt=humidity-rh"),
        REGISTER_WAIT,
        "host-0's new /humidity in a lookup",
        |links| targets(links) == host_0_humidity,
    );
    std::fs::remove_file(&humidity).unwrap();
    rd.await_links(
        &format!("{resource_lookup}?rt=humidity-rh"),
        REGISTER_WAIT,
        "host-0's removed /humidity gone from lookups",
        |links| links.is_empty(),
    );
    // Registering anew replaced the links (RFC 9176 §5): one registration
    // per host still, /temperature still there.
    assert_eq!(endpoints(&rd, &endpoint_lookup), registered);

    // SIGTERM: the host removes its registration before it exits.
    let status = hosts[1].stop();
    assert!(status.success(), "host-1 exited {status}");
    let remaining: BTreeSet<(String, String)> = registered
        .iter()
        .filter(|(ep, _)| ep != "host-1")
        .cloned()
        .collect();
    assert_eq!(
        endpoints(&rd, &endpoint_lookup),
        remaining,
        "host-1 still registered after its clean shutdown; host log:\n{}",
        hosts[1].stderr()
    );
    assert!(
        hosts[1].stderr().contains("removed the registration"),
        "{}",
        hosts[1].stderr()
    );
}

#[test]
fn a_short_lifetime_is_refreshed_while_kill_9_leaves_the_registration_to_expire() {
    let rd = ResourceDirectory::start(Implementation::Aiocoap);
    let endpoint_lookup = rd.discover("core.rd-lookup-ep");
    // lt = 5 s: refreshed every 4 to 4.5 s. aiocoap-rd drops a registration
    // 15 s after its lifetime ends, so an unrefreshed one is gone at 20 s.
    let config = |endpoint: &str| {
        format!(
            "[rd]\ndirectory = \"{}\"\nendpoint = \"{endpoint}\"\nlifetime_s = 5\n",
            rd.base()
        )
    };
    let refreshing = Server::builder()
        .plugins(&["temperature"])
        .binds(&["127.0.0.2:0"])
        .config(&config("refreshing"))
        .start();
    let mut killed = Server::builder()
        .plugins(&["temperature"])
        .binds(&["127.0.0.3:0"])
        .config(&config("killed"))
        .start();
    let names = |rd: &ResourceDirectory| -> BTreeSet<String> {
        endpoints(rd, &endpoint_lookup)
            .into_iter()
            .map(|(ep, _)| ep)
            .collect()
    };
    let both = BTreeSet::from(["killed".to_owned(), "refreshing".to_owned()]);
    let deadline = Instant::now() + REGISTER_WAIT;
    while names(&rd) != both {
        assert!(
            Instant::now() < deadline,
            "not both registered: {:?}",
            names(&rd)
        );
        thread::sleep(Duration::from_millis(200));
    }
    let registered_at = Instant::now();

    // kill -9 sends nothing: the registration stays (negative control).
    killed.kill();
    assert_eq!(names(&rd), both, "kill -9 must not remove the registration");

    // Until the killed host's registration expires, and 5 s past that, the
    // refreshing host stays listed.
    let deadline = registered_at + Duration::from_secs(35);
    let mut expired_at = None;
    loop {
        let listed = names(&rd);
        assert!(
            listed.contains("refreshing"),
            "the refreshing host's registration expired {:?} after registering; host log:\n{}",
            registered_at.elapsed(),
            refreshing.stderr()
        );
        if !listed.contains("killed") {
            expired_at.get_or_insert_with(Instant::now);
        }
        if expired_at.is_some_and(|at| at.elapsed() >= Duration::from_secs(5)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the killed host's registration did not expire within 35 s: {listed:?}"
        );
        thread::sleep(Duration::from_millis(500));
    }
    let expired_after = expired_at.unwrap() - registered_at;
    assert!(
        expired_after >= Duration::from_secs(15),
        "the killed host's registration went after {expired_after:?}, before its lifetime \
         and the directory's grace"
    );
}

#[test]
fn a_host_started_before_its_directory_serves_and_registers_once_the_directory_is_up() {
    let address = ResourceDirectory::free_address();
    let host = host(&format!("coap://{address}"), "127.0.0.2", "early");
    // Serving does not wait for the directory.
    CoapClient::get(&host.uri("/temperature"))
        .run()
        .assert_code("2.05");
    thread::sleep(Duration::from_secs(3));
    CoapClient::get(&host.uri("/temperature"))
        .run()
        .assert_code("2.05");

    let rd = ResourceDirectory::start_at(Implementation::Aiocoap, address);
    let resource_lookup = rd.discover("core.rd-lookup-res");
    // Retries back off to at most 60 s (times up to 1.5): within 40 s of
    // the start the attempts are at about 0, 1, 3, 7, 15 and 31 s.
    let expected = BTreeSet::from([format!("coap://{}/temperature", host.addr())]);
    rd.await_links(
        &format!("{resource_lookup}?ep=early"),
        Duration::from_secs(40),
        "the host registered once the directory came up",
        |links| targets(links) == expected,
    );
}

#[test]
fn three_hosts_register_with_libcoaps_coap_rd() {
    let rd = ResourceDirectory::start(Implementation::Libcoap);
    assert_eq!(rd.discover("core.rd"), "/rd");
    let hosts: Vec<Server> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .iter()
        .enumerate()
        .map(|(n, ip)| host(&rd.base(), ip, &format!("libcoap-host-{n}")))
        .collect();
    // coap-rd lists each registration resource in its own discovery.
    let registrations = rd.await_links(
        "/.well-known/core",
        REGISTER_WAIT,
        "three registrations at coap-rd",
        |links| {
            links
                .iter()
                .filter(|link| link.target.starts_with("/rd/"))
                .count()
                == hosts.len()
        },
    );
    for registration in registrations
        .iter()
        .filter(|link| link.target.starts_with("/rd/"))
    {
        let links = rd.links(&registration.target);
        let temperature = link_format::find(&links, "/temperature");
        assert!(
            temperature
                .value("rt")
                .is_some_and(|rt| rt.split(' ').any(|t| t == "temperature-celsius")),
            "{links:?}"
        );
    }
    // Each host gave its own base (its serving address): the registrations
    // are the hosts', not one host's three times.
    let log = rd.log();
    for host in &hosts {
        let base = format!("base=coap://{}", host.addr());
        assert!(log.contains(&base), "no {base} in coap-rd's log:\n{log}");
    }
}

#[test]
fn a_wildcard_bound_host_registers_the_address_its_route_to_the_directory_leaves_from() {
    let rd = ResourceDirectory::start(Implementation::Aiocoap);
    let resource_lookup = rd.discover("core.rd-lookup-res");
    // Bound to 0.0.0.0 the host knows no address of its own; the route to
    // 127.0.0.1 leaves from 127.0.0.1.
    let host = Server::builder()
        .plugins(&["temperature"])
        .binds(&["0.0.0.0:0"])
        .arg("--rd")
        .arg(rd.base())
        .arg("--endpoint")
        .arg("wildcard")
        .start();
    let expected = BTreeSet::from([format!(
        "coap://127.0.0.1:{}/temperature",
        host.addr().port()
    )]);
    rd.await_links(
        &format!("{resource_lookup}?ep=wildcard"),
        REGISTER_WAIT,
        "the wildcard-bound host's /temperature at 127.0.0.1",
        |links| targets(links) == expected,
    );
    CoapClient::get(&expected.first().unwrap().clone())
        .run()
        .assert_code("2.05");
}
