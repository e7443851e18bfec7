// loopback_ceiling_tool: the fastest a file's events can cross one loopback TCP connection.
//
//   build/loopback_ceiling_tool FILE
//
// A writer sends the file's bytes over a loopback connection in 4 MiB writes (as `handoff send`
// does); a reader takes them in 256 KiB reads and counts newlines, the least a line-oriented
// server has to do. Both run in this process, on two threads, so on a 2-core machine they have
// the machine to themselves, as the daemon and `handoff send` would. Time runs from the connect
// to the reader's end of stream; the file is read once beforehand (page cache) so its reading
// is not timed. Prints one line:
//   loopback: LINES lines, BYTES bytes in SECONDS s: RATE lines/s, MB/s
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "loopback_ceiling_tool: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: loopback_ceiling_tool FILE\n");
    return 2;
  }
  const int fd = ::open(argv[1], O_RDONLY | O_CLOEXEC);
  struct stat sb {};
  if (fd < 0 || ::fstat(fd, &sb) != 0) {
    Die(argv[1]);
  }
  const size_t size = static_cast<size_t>(sb.st_size);
  const char* data = nullptr;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
      Die("mmap");
    }
    data = static_cast<const char*>(p);
  }

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    Die("listen");
  }

  uint64_t lines = 0;
  uint64_t received = 0;
  std::thread reader([&] {
    const int conn = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) {
      Die("accept");
    }
    std::vector<char> buf(256 << 10);
    while (true) {
      const ssize_t n = ::recv(conn, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        Die("recv");
      }
      if (n == 0) {
        break;
      }
      received += static_cast<uint64_t>(n);
      lines += static_cast<uint64_t>(std::count(buf.data(), buf.data() + n, '\n'));
    }
    ::close(conn);
  });

  const auto start = std::chrono::steady_clock::now();
  const int out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (out < 0 || ::connect(out, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    Die("connect");
  }
  constexpr size_t kChunk = 4 << 20;
  for (size_t at = 0; at < size;) {
    const ssize_t n = ::send(out, data + at, std::min(kChunk, size - at), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      Die("send");
    }
    at += static_cast<size_t>(n);
  }
  ::shutdown(out, SHUT_WR);
  reader.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(out);
  if (received != size) {
    std::fprintf(stderr, "loopback_ceiling_tool: received %llu of %zu bytes\n",
                 static_cast<unsigned long long>(received), size);
    return 1;
  }
  std::printf("loopback: %llu lines, %zu bytes in %.3f s: %.0f lines/s, %.0f MB/s\n",
              static_cast<unsigned long long>(lines), size, seconds, lines / seconds,
              size / seconds / 1e6);
  return 0;
}
