//! Waking a host's scheduler when its queue changed, so it never polls: a unix datagram socket
//! in the abstract namespace (no file to clean up after a crash, nothing to fit in a path's
//! 108 bytes), named after the store, that whoever changes the queue on this host pokes
//! (`submit`, `jobs cancel`, a job's supervisor when its job ends). A poke carries no data: it
//! only says "look again"; the scheduler reads everything from the store. A poke nobody hears
//! (no scheduler yet) is harmless: a scheduler scans the store when it starts.
//!
//! Anyone on the box may poke (the namespace has no permissions), which costs the scheduler
//! one look at the store; it cannot make it do anything the store does not say.
use crate::store::Store;
use sha2::{Digest, Sha256};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;

/// The socket name of a store's scheduler on this host: a digest of where the store is (its
/// folder, resolved through links, or its URL).
fn socket_name(store: &dyn Store) -> Vec<u8> {
    socket_name_of(&store.describe())
}

/// The socket name for a store at `place` (its folder or URL); other sockets of the same
/// scheduler (`submit_channel`) add to it.
pub fn socket_name_of(place: &str) -> Vec<u8> {
    let place = match std::fs::canonicalize(Path::new(place)) {
        Ok(path) => path.display().to_string(),
        Err(_) => place.to_string(),
    };
    let digest = Sha256::digest(place.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("kiroku/scheduler/{hex}").into_bytes()
}

fn address(store: &dyn Store) -> std::io::Result<SocketAddr> {
    SocketAddr::from_abstract_name(socket_name(store))
}

/// Tells this host's scheduler of `store` to look at the queue again. Never fails: without a
/// scheduler listening there is nobody to tell.
pub fn poke(store: &dyn Store) {
    let Ok(addr) = address(store) else { return };
    if let Ok(socket) = UnixDatagram::unbound() {
        let _ = socket.set_nonblocking(true);
        let _ = socket.send_to_addr(&[1], &addr);
    }
}

/// The scheduler's end: bound while it lives, released by the kernel when it dies.
pub struct WakeSocket {
    socket: UnixDatagram,
}

impl WakeSocket {
    /// Binds the store's socket; `Ok(None)` when another process holds it (another scheduler
    /// of this store on this host).
    pub fn bind(store: &dyn Store) -> std::io::Result<Option<WakeSocket>> {
        let addr = address(store)?;
        match UnixDatagram::bind_addr(&addr) {
            Ok(socket) => {
                socket.set_nonblocking(true)?;
                Ok(Some(WakeSocket { socket }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The descriptor to wait on (readable when poked).
    pub fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.socket.as_raw_fd()
    }

    /// Reads every poke waiting; returns how many there were.
    pub fn drain(&self) -> usize {
        let mut buf = [0u8; 16];
        let mut count = 0;
        while self.socket.recv(&mut buf).is_ok() {
            count += 1;
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[test]
    fn a_poke_reaches_the_bound_scheduler_and_only_one_can_bind() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
        poke(&store); // nobody listens: nothing happens
        let socket = WakeSocket::bind(&store).unwrap().expect("free");
        assert!(WakeSocket::bind(&store).unwrap().is_none());
        assert_eq!(socket.drain(), 0);
        poke(&store);
        poke(&store);
        assert_eq!(socket.drain(), 2);
        let other = tempfile::tempdir().unwrap();
        let other = SqliteStore::open(&other.path().join(".kiroku"), false).unwrap();
        poke(&other);
        assert_eq!(socket.drain(), 0);
        drop(socket);
        assert!(WakeSocket::bind(&store).unwrap().is_some());
    }
}
