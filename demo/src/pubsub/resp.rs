//! A minimal RESP2 client over a tokio `TcpStream`: just what the Redis adapter needs
//! (commands, pipelines, and reading the pushes of a subscribed connection).

use super::RedisAddr;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

/// Longest bulk string or array accepted from the server (a guard against garbage).
const MAX_LEN: i64 = 64 * 1024 * 1024;

/// One RESP2 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    /// `None`: the null bulk string.
    Bulk(Option<Vec<u8>>),
    /// `None`: the null array.
    Array(Option<Vec<Value>>),
}

impl Value {
    /// The bytes of a bulk or simple string.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bulk(Some(b)) => Some(b),
            Value::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Value] {
        match self {
            Value::Array(Some(items)) => items,
            _ => &[],
        }
    }
}

pub struct Conn {
    io: BufStream<TcpStream>,
}

impl Conn {
    /// Connect (and AUTH / SELECT when the address says so) within `within`.
    pub async fn connect(addr: &RedisAddr, within: Duration) -> io::Result<Conn> {
        tokio::time::timeout(within, async {
            let stream = TcpStream::connect((addr.host.as_str(), addr.port)).await?;
            stream.set_nodelay(true)?;
            let mut conn = Conn {
                io: BufStream::new(stream),
            };
            if let Some(password) = &addr.password {
                let mut auth: Vec<&[u8]> = vec![b"AUTH"];
                if let Some(user) = &addr.username {
                    auth.push(user.as_bytes());
                }
                auth.push(password.as_bytes());
                conn.cmd(&auth).await?;
            }
            if addr.db != 0 {
                conn.cmd(&[b"SELECT", addr.db.to_string().as_bytes()])
                    .await?;
            }
            conn.cmd(&[b"PING"]).await?;
            Ok(conn)
        })
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
    }

    /// Queue one command (flushed by `flush`).
    pub async fn write(&mut self, args: &[&[u8]]) -> io::Result<()> {
        let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        self.io.write_all(&out).await
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        self.io.flush().await
    }

    /// Send one command and read its reply; an error reply becomes an `io::Error`.
    pub async fn cmd(&mut self, args: &[&[u8]]) -> io::Result<Value> {
        self.write(args).await?;
        self.flush().await?;
        match self.read().await? {
            Value::Error(e) => Err(io::Error::other(format!("redis: {e}"))),
            v => Ok(v),
        }
    }

    /// Send several commands at once and read their replies (error replies included, as
    /// values).
    pub async fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> io::Result<Vec<Value>> {
        for c in cmds {
            let args: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
            self.write(&args).await?;
        }
        self.flush().await?;
        let mut out = Vec::with_capacity(cmds.len());
        for _ in cmds {
            out.push(self.read().await?);
        }
        Ok(out)
    }

    /// Read one reply (or, on a subscribed connection, one push). Not cancel-safe: read from
    /// one task and forward.
    pub async fn read(&mut self) -> io::Result<Value> {
        // Arrays being filled: (items so far, items expected).
        let mut stack: Vec<(Vec<Value>, usize)> = Vec::new();
        loop {
            let mut value = match self.read_token().await? {
                Token::ArrayOf(n) => {
                    stack.push((Vec::with_capacity(n.min(1024)), n));
                    continue;
                }
                Token::Value(v) => v,
            };
            loop {
                match stack.last_mut() {
                    None => return Ok(value),
                    Some((items, want)) => {
                        items.push(value);
                        if items.len() < *want {
                            break;
                        }
                        let (items, _) = stack.pop().expect("non-empty");
                        value = Value::Array(Some(items));
                    }
                }
            }
        }
    }

    async fn read_line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        let n = (&mut self.io)
            .take(MAX_LEN as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "redis closed the connection",
            ));
        }
        if !line.ends_with(b"\r\n") {
            return Err(bad("line without CRLF"));
        }
        line.truncate(line.len() - 2);
        String::from_utf8(line).map_err(|_| bad("line not UTF-8"))
    }

    async fn read_token(&mut self) -> io::Result<Token> {
        let line = self.read_line().await?;
        let (kind, rest) = line.split_at_checked(1).ok_or_else(|| bad("empty line"))?;
        let int = || rest.parse::<i64>().map_err(|_| bad("bad integer"));
        Ok(match kind {
            "+" => Token::Value(Value::Simple(rest.to_owned())),
            "-" => Token::Value(Value::Error(rest.to_owned())),
            ":" => Token::Value(Value::Int(int()?)),
            "$" => {
                let n = int()?;
                if n < 0 {
                    Token::Value(Value::Bulk(None))
                } else if n > MAX_LEN {
                    return Err(bad("bulk string too long"));
                } else {
                    let mut buf = vec![0u8; n as usize + 2];
                    self.io.read_exact(&mut buf).await?;
                    if !buf.ends_with(b"\r\n") {
                        return Err(bad("bulk string without CRLF"));
                    }
                    buf.truncate(n as usize);
                    Token::Value(Value::Bulk(Some(buf)))
                }
            }
            "*" => {
                let n = int()?;
                if n < 0 {
                    Token::Value(Value::Array(None))
                } else if n == 0 {
                    Token::Value(Value::Array(Some(Vec::new())))
                } else if n > MAX_LEN {
                    return Err(bad("array too long"));
                } else {
                    Token::ArrayOf(n as usize)
                }
            }
            _ => return Err(bad("unknown reply type")),
        })
    }
}

enum Token {
    Value(Value),
    /// The header of a non-empty array of this many items.
    ArrayOf(usize),
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("redis protocol: {what}"),
    )
}
