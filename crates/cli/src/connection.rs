//! One blocking connection to a server: connect, send a command, read
//! reply frames.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
#[cfg(unix)]
use std::os::unix::net::UnixStream;

use bytes::{Bytes, BytesMut};
use rubedo_resp::{Frame, Protocol};

/// Where to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Tcp { host: String, port: u16 },
    Unix(String),
}

impl fmt::Display for Target {
    /// `host:port` or the socket path, as used in messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { host, port } => write!(f, "{host}:{port}"),
            Target::Unix(path) => write!(f, "{path}"),
        }
    }
}

/// Why a command could not complete.
#[derive(Debug)]
pub enum ConnError {
    /// The server closed the connection.
    Closed,
    /// A socket error.
    Io(io::Error),
    /// The server sent bytes that are not RESP.
    Protocol(String),
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnError::Closed => write!(f, "Server closed the connection"),
            ConnError::Io(e) => write!(f, "{}", os_message(e)),
            ConnError::Protocol(m) => write!(f, "Protocol error: {m}"),
        }
    }
}

impl From<io::Error> for ConnError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => ConnError::Closed,
            _ => ConnError::Io(e),
        }
    }
}

/// The C library's wording of an OS error, without Rust's
/// " (os error N)" suffix and name-lookup preamble.
pub fn os_message(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error ") {
        Some(i) => &text[..i],
        None => &text,
    };
    text.strip_prefix("failed to lookup address information: ")
        .unwrap_or(text)
        .to_string()
}

enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            #[cfg(unix)]
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// A connected socket plus its read buffer.
pub struct Connection {
    stream: Stream,
    buf: BytesMut,
}

impl Connection {
    /// Open a connection. The error is the OS's message, e.g.
    /// `Connection refused`.
    pub fn connect(target: &Target) -> Result<Connection, String> {
        let stream = match target {
            Target::Tcp { host, port } => {
                let s = TcpStream::connect((host.as_str(), *port)).map_err(|e| os_message(&e))?;
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }
            #[cfg(unix)]
            Target::Unix(path) => {
                Stream::Unix(UnixStream::connect(path).map_err(|e| os_message(&e))?)
            }
            #[cfg(not(unix))]
            Target::Unix(_) => return Err("Unix sockets are not supported here".to_string()),
        };
        Ok(Connection {
            stream,
            buf: BytesMut::with_capacity(16 * 1024),
        })
    }

    /// Send one command as a RESP array of bulk strings.
    pub fn send(&mut self, args: &[Vec<u8>]) -> Result<(), ConnError> {
        let frame = Frame::Array(
            args.iter()
                .map(|a| Frame::Bulk(Bytes::copy_from_slice(a)))
                .collect(),
        );
        let mut out = BytesMut::new();
        rubedo_resp::encode(&frame, Protocol::Resp2, &mut out);
        self.stream.write_all(&out)?;
        self.stream.flush()?;
        Ok(())
    }

    /// Block until one complete frame has arrived.
    pub fn read_frame(&mut self) -> Result<Frame, ConnError> {
        loop {
            match rubedo_resp::decode_frame(&mut self.buf) {
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(e) => return Err(ConnError::Protocol(e.to_string())),
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = loop {
                match self.stream.read(&mut chunk) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            if n == 0 {
                return Err(ConnError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Send a command and read its reply.
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Frame, ConnError> {
        let owned: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        self.send(&owned)?;
        self.read_frame()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_display() {
        let t = Target::Tcp {
            host: "127.0.0.1".into(),
            port: 6379,
        };
        assert_eq!(t.to_string(), "127.0.0.1:6379");
        assert_eq!(
            Target::Unix("/tmp/r.sock".into()).to_string(),
            "/tmp/r.sock"
        );
    }

    #[test]
    fn refused_message_matches_libc() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let err = Connection::connect(&Target::Tcp {
            host: "127.0.0.1".into(),
            port,
        })
        .err()
        .unwrap();
        assert_eq!(err, "Connection refused");
    }

    #[test]
    fn round_trip_over_a_socket() {
        use std::io::{BufRead, BufReader};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut got = Vec::new();
            for _ in 0..5 {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                got.push(line);
            }
            // Reply in two pieces to exercise partial reads.
            let mut w = s;
            w.write_all(b"*2\r\n$3\r\nb").unwrap();
            w.flush().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
            w.write_all(b"ar\r\n:7\r\n").unwrap();
            got
        });
        let mut c = Connection::connect(&Target::Tcp {
            host: "127.0.0.1".into(),
            port,
        })
        .unwrap();
        let reply = c.call(&[b"GET", b"foo"]).unwrap();
        assert_eq!(
            reply,
            Frame::Array(vec![Frame::bulk(b"bar"), Frame::Integer(7)])
        );
        assert_eq!(
            server.join().unwrap().concat(),
            "*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n"
        );
        assert!(matches!(c.read_frame(), Err(ConnError::Closed)));
    }
}
