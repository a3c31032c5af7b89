//! The least any proxy can do: accept a connection, open one to the
//! upstream, and copy bytes both ways (no HTTP, no keys, no records).
//! `bench/lower_bound.sh` puts it where promptgate sits in the peer
//! benchmark, to measure what the shared-core setup costs before a gateway
//! does any work of its own.
//!
//!     cargo run --release --example tcp_relay -- 127.0.0.1:19300 127.0.0.1:18080

use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: tcp_relay <listen address> <upstream address>");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(&listen).await?;
    loop {
        let (mut client, _) = listener.accept().await?;
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(&upstream).await else {
                return;
            };
            // As in the gateway: without it every small write waits for an ACK.
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}
