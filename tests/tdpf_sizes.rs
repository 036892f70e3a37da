#[test]
fn sizes() {
    eprintln!(
        "Connection {}",
        std::mem::size_of::<tcpdiag::flow::Connection>()
    );
    eprintln!("Side {}", std::mem::size_of::<tcpdiag::flow::side::Side>());
    eprintln!("Event {}", std::mem::size_of::<tcpdiag::flow::Event>());
    eprintln!(
        "Zeek {}",
        std::mem::size_of::<tcpdiag::flow::zeek::ZeekState>()
    );
    eprintln!("Segment {}", std::mem::size_of::<tcpdiag::flow::Segment>());
}
