//! Replays of the container-host and tunnel fixtures (fixtures/scripts/container_any.sh,
//! vxlan*.sh, gre.sh, ipip.sh, geneve.sh, mpls_pppoe.sh, erspan.sh): copies of a packet on
//! several interfaces counted once with their path, the encapsulation in the flow
//! record, two tenants with one inner 4-tuple kept apart. tests/cross_check_tshark.rs
//! compares the same files with tshark frame by frame.

mod common;

use common::pcap::Pcap;
use common::*;
use serde_json::{json, Value};

fn doc(name: &str) -> Value {
    let r = replay(name, &[]);
    r.assert_code(0);
    r.json()
}

fn flow_to<'a>(d: &'a Value, server: &str) -> &'a Value {
    flows(d)
        .iter()
        .find(|f| f["server"] == server)
        .unwrap_or_else(|| panic!("no flow to {server}"))
}

/// (dir, ifindex list, packets) of each path of a flow.
fn paths(f: &Value) -> Vec<(String, Vec<u64>, u64)> {
    f["paths"]
        .as_array()
        .unwrap_or_else(|| panic!("no paths in {}", f["server"]))
        .iter()
        .map(|p| {
            (
                p["dir"].as_str().unwrap().to_string(),
                p["ifindex"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_u64().unwrap())
                    .collect(),
                num(p, "/packets"),
            )
        })
        .collect()
}

fn path(dir: &str, ifs: &[u64], packets: u64) -> (String, Vec<u64>, u64) {
    (dir.to_string(), ifs.to_vec(), packets)
}

// container_any.pcap: interfaces in the host namespace: 2 br0, 3 vethc1 (ctr1),
// 4 vethc2 (ctr2), 5 eth0 (the uplink).

#[test]
fn replay_of_any_counts_each_packet_once_with_its_path() {
    let d = doc("container_any.pcap");
    let packets = &d["summary"]["packets"];
    assert_eq!(num(packets, "/frames"), 70);
    assert_eq!(num(packets, "/tcp_segments"), 30);
    assert_eq!(num(packets, "/interface_duplicates"), 40);
    assert_eq!(flows(&d).len(), 3);
    assert!(
        d["findings"].as_array().unwrap().is_empty(),
        "{}",
        d["findings"]
    );
    for f in flows(&d) {
        assert_eq!(text(f, "/history"), "ShADadFf", "{}", f["server"]);
        assert_eq!(flow_packets(f), 10);
    }
    // Bridged: the client's veth, then the server's.
    let bridged = flow_to(&d, "10.88.0.3:7000");
    assert_eq!(
        paths(bridged),
        vec![path("c>s", &[3, 4], 6), path("s>c", &[4, 3], 4)]
    );
    // Routed out of the host: veth, bridge, uplink (TTL one lower there), and back.
    let routed = flow_to(&d, "198.51.100.10:7000");
    assert_eq!(
        paths(routed),
        vec![path("c>s", &[3, 2, 5], 6), path("s>c", &[5, 2, 3], 4)]
    );
    // The host's own server behind the bridge.
    let local = flow_to(&d, "10.88.0.1:7001");
    assert_eq!(
        paths(local),
        vec![path("c>s", &[4, 2], 6), path("s>c", &[2, 4], 4)]
    );
    // A replayed file does not know the names: the index stands in.
    assert_eq!(
        routed["paths"][0]["interfaces"],
        json!(["ifindex 3", "ifindex 2", "ifindex 5"])
    );
    assert_eq!(
        num(&routed["paths"][0], "/first_frame"),
        num(routed, "/first_frame")
    );
    // The same with the analysis on the reading thread.
    let one = replay("container_any.pcap", &["--threads", "1"]);
    assert_eq!(one.json()["flows"], d["flows"]);
}

#[test]
fn a_packet_missing_on_one_interface_shows_as_its_own_path() {
    // Drop the uplink's copy of the client's request (a packet the host lost between
    // its bridge and its uplink): the flow still has one packet per transmission,
    // and the request's path stops at the bridge.
    let mut p = Pcap::read(&fixture("container_any.pcap"));
    let data_on_uplink = p
        .records
        .iter()
        .position(|r| {
            let d = &r.data;
            // cooked v2: interface 5, outgoing; IPv4 with 7 payload bytes from 10.88.0.2
            d[4..8] == 5u32.to_be_bytes()
                && d[20 + 12..20 + 16] == [10, 88, 0, 2]
                && d.len() == 20 + 20 + 32 + 7
        })
        .expect("the request on the uplink");
    let frame = data_on_uplink as u64 + 1;
    p.records.remove(data_on_uplink);
    let dir = tempdir();
    let path_ = dir.path().join("lost_on_uplink.pcap");
    p.write(&path_);
    let r = run(["replay", path_.to_str().unwrap(), "--format", "json"]);
    r.assert_code(0);
    let d = r.json();
    assert_eq!(num(&d, "/summary/packets/interface_duplicates"), 39);
    let routed = flow_to(&d, "198.51.100.10:7000");
    assert_eq!(
        paths(routed),
        vec![
            path("c>s", &[3, 2, 5], 5),
            path("s>c", &[5, 2, 3], 4),
            path("c>s", &[3, 2], 1),
        ],
        "frame {frame} removed"
    );
    // The short path points at the request: its first copy, on the client's veth,
    // two frames before the removed one.
    let short = &routed["paths"][2];
    assert_eq!(num(short, "/first_frame"), frame - 2);
    assert_eq!(num(short, "/last_frame"), frame - 2);
}

#[test]
fn two_tenants_with_one_inner_tuple_stay_two_flows() {
    let d = doc("vxlan_tenants.pcap");
    let f = flows(&d);
    assert_eq!(f.len(), 2, "{f:#?}");
    for (flow, vni, n) in [(&f[0], 42, 1), (&f[1], 43, 2)] {
        assert_eq!(text(flow, "/client"), "10.0.0.1:40000");
        assert_eq!(text(flow, "/server"), "10.0.0.2:7000");
        assert_eq!(text(flow, "/history"), "ShADadFf");
        assert_eq!(flow_packets(flow), 10);
        assert!(flow["previous_on_tuple"].is_null());
        assert!(flow["findings"].as_array().unwrap().is_empty());
        assert_eq!(
            flow["encapsulation"],
            json!([{"type": "vxlan", "vni": vni, "port": 4789,
                    "outer_src": "192.0.2.1", "outer_dst": "192.0.2.2"}]),
            "tenant {n}"
        );
    }
    assert!(
        d["findings"].as_array().unwrap().is_empty(),
        "{}",
        d["findings"]
    );
}

#[test]
fn encapsulation_of_every_tunnel_fixture() {
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "vxlan.pcap",
            "10.7.0.2:7000",
            json!([{"type": "vxlan", "vni": 7, "port": 8472,
                    "outer_src": "192.0.2.1", "outer_dst": "192.0.2.2"}]),
        ),
        (
            "geneve.pcap",
            "10.60.0.2:7000",
            json!([{"type": "geneve", "vni": 5000,
                    "outer_src": "192.0.2.1", "outer_dst": "192.0.2.2"}]),
        ),
        (
            "gre.pcap",
            "10.1.0.2:7000",
            json!([{"type": "gre", "key": 1001, "payload": "ipv4",
                    "outer_src": "192.0.2.1", "outer_dst": "192.0.2.2"}]),
        ),
        (
            "gre.pcap",
            "10.2.0.2:7000",
            json!([{"type": "gre", "key": 2002, "payload": "ethernet",
                    "outer_src": "192.0.2.1", "outer_dst": "192.0.2.2"}]),
        ),
        (
            "ipip.pcap",
            "[2001:db8:4::2]:7000",
            json!([{"type": "ip_in_ip", "mode": "sit",
                    "outer_src": "192.0.2.1", "outer_dst": "192.0.2.2"}]),
        ),
        (
            "ipip.pcap",
            "10.6.0.2:7000",
            json!([{"type": "ip_in_ip", "mode": "ipip6",
                    "outer_src": "2001:db8::1", "outer_dst": "2001:db8::2"}]),
        ),
        (
            "mpls.pcap",
            "10.8.0.2:7000",
            json!([{"type": "mpls", "labels": [100, 200]}]),
        ),
        (
            "pppoe.pcap",
            "10.9.0.2:7000",
            json!([{"type": "pppoe", "session": 4660}]),
        ),
        (
            "erspan.pcap",
            "10.11.0.2:7000",
            json!([{"type": "erspan", "erspan_type": 3, "session": 200,
                    "outer_src": "192.0.2.1", "outer_dst": "192.0.2.2"}]),
        ),
    ];
    for (file, server, want) in cases {
        let d = doc(file);
        let f = flow_to(&d, server);
        assert_eq!(f["encapsulation"], want, "{file} {server}");
        assert_eq!(text(f, "/history"), "ShADadFf", "{file} {server}");
        assert!(f.get("paths").is_none(), "{file}: not a cooked v2 capture");
    }
    // Plain traffic has neither key.
    let d = doc("http_clean.pcap");
    for f in flows(&d) {
        assert!(f.get("encapsulation").is_none() && f.get("paths").is_none());
    }
}

#[test]
fn encapsulation_is_oriented_from_the_client() {
    // The capture starts at the server's SYN-ACK: the flow's client is the SYN-ACK's
    // receiver, and the outer addresses are turned to match.
    let mut p = Pcap::read(&fixture("gre.pcap"));
    p.records.remove(0);
    let dir = tempdir();
    let path_ = dir.path().join("from_synack.pcap");
    p.write(&path_);
    let r = run(["replay", path_.to_str().unwrap(), "--format", "json"]);
    r.assert_code(0);
    let d = r.json();
    let f = flow_to(&d, "10.1.0.2:7000");
    assert_eq!(text(f, "/roles"), "syn_ack");
    assert_eq!(f["encapsulation"][0]["outer_src"], "192.0.2.1");
    assert_eq!(f["encapsulation"][0]["outer_dst"], "192.0.2.2");
}
