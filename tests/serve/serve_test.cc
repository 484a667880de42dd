// `sealift-install serve`: the bundle as a read-only OCI registry, started as a real process on a
// free port and read by the real clients (crane, skopeo, helm 3 and 4, cosign v2 and v3, curl),
// then copied into a docker-registry with `skopeo sync`, and installed from into the kwok cluster.
// Hostile requests (path traversal, bad digests, huge ranges, writes, thousands of connections)
// get clear status codes and leave the server answering.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "bundle/archive_writer.h"
#include "bundle/seekable_format.h"
#include "env/cluster.h"
#include "env/registry.h"
#include "env/tls.h"
#include "install/harness.h"
#include "oci/digest.h"
#include "ref/reference.h"

namespace sealift::install::testing {
namespace {

constexpr std::string_view kProject = "ai-saas";
constexpr std::string_view kChartRepository = "ai-saas/charts/sealift-test-app";

fs::path scratch(const std::string& name) {
  static testenv::TempDir dir("sealift-serve-test");
  fs::path p = dir / name;
  fs::create_directories(p.parent_path());
  return p;
}

// `sealift-install serve` on a free port; returns once it accepts connections (after verifying).
class Served {
 public:
  explicit Served(const fs::path& bundle, const std::vector<std::string>& extra = {}) {
    port_ = testenv::free_port();
    std::vector<std::string> argv = {"setpriv", "--pdeathsig", "KILL", "--", testenv::install_program(), "serve",
                                     bundle.string(), "--key", factory().public_key().string(), "--project",
                                     std::string(kProject), "--listen", "127.0.0.1:" + std::to_string(port_)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    static int n = 0;
    proc_ = testenv::Process(argv, scratch("serve-" + std::to_string(++n) + ".log"));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (!testenv::wait_for_port(port_, 0.5)) {
      if (!proc_.running() || std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("sealift-install serve did not start:\n" + proc_.log_tail());
    }
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  testenv::Process& process() { return proc_; }

 private:
  int port_ = 0;
  testenv::Process proc_;
};

// The default bundle, served once for every test that only reads.
Served& served() {
  static Served s(full_bundle().path);
  return s;
}

// A client home with an empty docker config (anonymous), for crane, cosign and skopeo.
const fs::path& client_home() {
  static const fs::path home = [] {
    fs::path h = scratch("client-home");
    fs::create_directories(h);
    util::write_file_atomic(h / "config.json", "{}", 0600);
    return h;
  }();
  return home;
}

std::string repository_of(const std::string& source) {
  return std::string(kProject) + "/" + ref::Reference::parse(source).repository;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

RunResult must_run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {}) {
  RunResult r = testenv::run(argv, env);
  EXPECT_EQ(r.exit_code, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << "\n" << said(r);
  return r;
}

RunResult crane(const std::vector<std::string>& args, const fs::path& home = client_home()) {
  std::vector<std::string> argv = {testenv::peer("crane")};
  argv.insert(argv.end(), args.begin(), args.end());
  return testenv::run(argv, {{"DOCKER_CONFIG", home.string()}});
}

struct Http {
  int status = 0;
  std::string headers;  // the raw header block, lowercased
  std::string body;
  std::string header(const std::string& name) const {
    std::string key = "\n" + name + ": ";
    size_t at = headers.find(key);
    if (at == std::string::npos) return {};
    size_t end = headers.find('\r', at + key.size());
    return headers.substr(at + key.size(), end - at - key.size());
  }
};

// One request with curl, exactly as written (--path-as-is: no dot-segment clean-up on our side).
Http http(const std::string& url, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"curl", "-sS", "-i", "--path-as-is", "--max-time", "60"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  RunResult r = testenv::run(argv);
  Http h;
  if (r.exit_code != 0) {
    ADD_FAILURE() << "curl " << url << ": " << said(r);
    return h;
  }
  size_t end = r.out.find("\r\n\r\n");
  std::string head = r.out.substr(0, end);
  h.body = end == std::string::npos ? std::string() : r.out.substr(end + 4);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  h.headers = head;
  if (head.size() > 12) h.status = std::stoi(head.substr(9, 3));
  return h;
}

// A non-blocking TCP connection to the server from loopback address 127.0.0.`from` (the whole of
// 127/8 is this host's, so each `from` is a client address of its own), already under way.
int connect_from(int port, int from) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return fd;
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr.s_addr = htonl((127u << 24) | static_cast<uint32_t>(from));
  if (bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) {
    close(fd);
    return -1;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  return fd;
}

// `sealift-install serve` that is expected to refuse before listening; `timeout` ends one that
// does not (exit 124).
RunResult serve_refused(const fs::path& bundle, const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {"timeout", "120", testenv::install_program(), "serve", bundle.string(), "--key",
                                   factory().public_key().string(), "--project", std::string(kProject)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return testenv::run(argv);
}

std::string error_code(const Http& h) {
  try {
    return nlohmann::json::parse(h.body).at("errors").at(0).at("code");
  } catch (const std::exception&) {
    return "not an OCI error body: " + h.body;
  }
}

TEST(Serve, CranePullsEveryImageAndTheChartByTagAndDigest) {
  const auto& b = full_bundle();
  Served& s = served();
  bundle::Root root = root_of(b.path);
  ASSERT_EQ(root.images.size(), b.lock.images.size());
  for (const auto& image : root.images) {
    const std::string repo = s.host() + "/" + repository_of(image.source);
    const std::string tag = ref::Reference::parse(image.source).tag;
    EXPECT_EQ(trimmed(must_run({testenv::peer("crane"), "digest", "--insecure", repo + ":" + tag},
                               {{"DOCKER_CONFIG", client_home().string()}})
                          .out),
              image.digest.str())
        << image.source;
    // The manifest's bytes, by digest, are the upstream ones: their sha256 is the locked digest.
    RunResult m = crane({"manifest", "--insecure", repo + "@" + image.digest.str()});
    ASSERT_EQ(m.exit_code, 0) << said(m);
    EXPECT_EQ(oci::Digest::of(m.out), image.digest) << image.source;
    // Every platform's layers, which crane checks against their digests as it writes them.
    fs::path out = scratch("crane-pull/" + ref::Reference::parse(image.source).repository);
    RunResult pull = crane({"pull", "--insecure", "--format", "oci", "--platform", "all", repo + "@" + image.digest.str(),
                            out.string()});
    ASSERT_EQ(pull.exit_code, 0) << said(pull);
    EXPECT_NE(util::read_file(out / "index.json").find(image.digest.str()), std::string::npos) << image.source;
  }
  EXPECT_EQ(trimmed(crane({"digest", "--insecure", s.host() + "/" + std::string(kChartRepository) + ":1.0.0"}).out),
            root.chart.manifest.str());

  // The catalog and tags: the image's tag, its cosign .sig tag and its referrers tag.
  auto catalog = nlohmann::json::parse(http("http://" + s.host() + "/v2/_catalog").body);
  EXPECT_EQ(catalog["repositories"].size(), root.images.size() + 1) << catalog.dump();
  const auto& first = root.images.front();
  RunResult tags = crane({"ls", "--insecure", s.host() + "/" + repository_of(first.source)});
  ASSERT_EQ(tags.exit_code, 0) << said(tags);
  EXPECT_NE(tags.out.find(ref::Reference::parse(first.source).tag + "\n"), std::string::npos) << tags.out;
  EXPECT_NE(tags.out.find(first.digest.tag_form() + ".sig\n"), std::string::npos) << tags.out;
  EXPECT_NE(tags.out.find(first.digest.tag_form() + "\n"), std::string::npos) << tags.out;
}

// skopeo's dir: transport keeps every manifest as served (an OCI layout would convert Docker
// manifest lists), and skopeo checks each blob against its digest as it copies.
TEST(Serve, SkopeoCopiesEveryImageWithEveryPlatform) {
  const auto& b = full_bundle();
  Served& s = served();
  for (const auto& image : root_of(b.path).images) {
    fs::path dir = scratch("skopeo/" + ref::Reference::parse(image.source).repository);
    must_run({"skopeo", "copy", "--quiet", "--all", "--src-tls-verify=false",
              "docker://" + s.host() + "/" + repository_of(image.source) + "@" + image.digest.str(),
              "dir:" + dir.string()});
    EXPECT_EQ(oci::Digest::of(util::read_file(dir / "manifest.json")), image.digest) << image.source;
  }
}

// oras copies every image and the chart with their referrers (-r: through the referrers API) into
// OCI layouts, checking every digest, and finds the signature with `discover`.
TEST(Serve, OrasCopiesEveryImageAndTheChartWithTheirReferrers) {
  const auto& b = full_bundle();
  Served& s = served();
  bundle::Root root = root_of(b.path);
  struct Object {
    std::string repository;
    oci::Digest digest, referrer;
  };
  std::vector<Object> objects;
  for (const auto& image : root.images) objects.push_back({repository_of(image.source), image.digest, image.referrer});
  objects.push_back({std::string(kChartRepository), root.chart.manifest, root.chart.referrer});
  const std::string oras = testenv::peer("oras");
  const std::map<std::string, std::string> env = {{"DOCKER_CONFIG", client_home().string()}};
  for (const auto& o : objects) {
    const std::string pinned = s.host() + "/" + o.repository + "@" + o.digest.str();
    RunResult fetched = must_run({oras, "manifest", "fetch", "--plain-http", pinned}, env);
    EXPECT_EQ(oci::Digest::of(fetched.out), o.digest) << pinned;
    fs::path layout = scratch("oras/" + o.repository);
    must_run({oras, "copy", "-r", "--from-plain-http", pinned, "--to-oci-layout", layout.string() + ":copied"}, env);
    const std::string index = util::read_file(layout / "index.json");
    EXPECT_NE(index.find(o.digest.str()), std::string::npos) << index;
    EXPECT_TRUE(fs::exists(layout / "blobs/sha256" / std::string(o.referrer.hex()))) << pinned << ": referrer not copied";
    RunResult discovered = must_run({oras, "discover", "--plain-http", "--format", "json", pinned}, env);
    EXPECT_NE(discovered.out.find(o.referrer.str()), std::string::npos) << discovered.out;
  }
}

TEST(Serve, CosignV2AndV3VerifyTheServedImagesAndChart) {
  const auto& b = full_bundle();
  Served& s = served();
  bundle::Root root = root_of(b.path);
  std::vector<std::string> pinned;
  for (const auto& image : root.images) pinned.push_back(s.host() + "/" + repository_of(image.source) + "@" + image.digest.str());
  pinned.push_back(s.host() + "/" + std::string(kChartRepository) + "@" + root.chart.manifest.str());
  for (const auto& reference : pinned) {
    for (const std::string cosign : {"cosign", "cosign3", "cosign3-legacy"}) {
      RunResult v = cosign_verify_offline(reference, factory().public_key(), cosign, client_home());
      EXPECT_EQ(v.exit_code, 0) << cosign << " " << reference << "\n" << said(v);
    }
    RunResult stranger = cosign_verify_offline(reference, factory().other_key("stranger"), "cosign3", client_home());
    EXPECT_NE(stranger.exit_code, 0) << reference;
  }
}

TEST(Serve, HelmThreeAndFourPullTheChart) {
  const auto& b = full_bundle();
  Served& s = served();
  bundle::ArchiveReader reader(b.path);
  bundle::Root root = root_of(b.path);
  oci::Manifest chart = oci::Manifest::parse(reader.read_small(bundle::blob_path(root.chart.manifest)));
  for (const auto& helm : testenv::helm_peers()) {
    fs::path dir = scratch("helm-pull-" + helm);
    fs::create_directories(dir);
    fs::path home = scratch("helm-home-" + helm);
    must_run({testenv::peer(helm), "pull", "oci://" + s.host() + "/" + std::string(kChartRepository), "--version",
              "1.0.0", "--plain-http", "-d", dir.string()},
             {{"HELM_CACHE_HOME", (home / "cache").string()},
              {"HELM_CONFIG_HOME", (home / "config").string()},
              {"HELM_DATA_HOME", (home / "data").string()}});
    fs::path tgz = dir / "sealift-test-app-1.0.0.tgz";
    ASSERT_TRUE(fs::exists(tgz)) << helm;
    EXPECT_EQ(oci::Digest::of(util::read_file(tgz)), chart.layers().at(0).digest) << helm;
  }
}

TEST(Serve, ReferrersApiListsTheSignatureBundles) {
  const auto& b = full_bundle();
  Served& s = served();
  for (const auto& image : root_of(b.path).images) {
    const std::string url = "http://" + s.host() + "/v2/" + repository_of(image.source) + "/referrers/" + image.digest.str();
    Http all = http(url);
    ASSERT_EQ(all.status, 200) << all.body;
    EXPECT_EQ(all.header("content-type"), "application/vnd.oci.image.index.v1+json");
    auto index = nlohmann::json::parse(all.body);
    ASSERT_EQ(index["manifests"].size(), 1u) << all.body;
    const auto& d = index["manifests"][0];
    EXPECT_EQ(d["digest"], image.referrer.str());
    const std::string type = d["artifactType"];
    EXPECT_NE(type.find("sigstore.bundle"), std::string::npos) << type;

    std::string encoded = type;
    for (size_t at; (at = encoded.find('+')) != std::string::npos;) encoded.replace(at, 1, "%2B");
    Http filtered = http(url + "?artifactType=" + encoded);
    EXPECT_EQ(filtered.header("oci-filters-applied"), "artifacttype");  // headers are compared lowercased
    EXPECT_EQ(nlohmann::json::parse(filtered.body)["manifests"].size(), 1u);
    Http none = http(url + "?artifactType=application/x-none");
    EXPECT_EQ(nlohmann::json::parse(none.body)["manifests"].size(), 0u);
  }
  // A subject nothing refers to: an empty index, not 404.
  Http unknown = http("http://" + s.host() + "/v2/" + repository_of(root_of(b.path).images[0].source) +
                      "/referrers/sha256:" + std::string(64, '0'));
  EXPECT_EQ(unknown.status, 200);
  EXPECT_EQ(nlohmann::json::parse(unknown.body)["manifests"].size(), 0u);
}

TEST(Serve, RangeRequestsOnBlobs) {
  const auto& b = full_bundle();
  Served& s = served();
  const bundle::Root root = root_of(b.path);
  const auto& image = root.images.at(0);
  const std::string entry = first_layer(b.path, image.source);
  const std::string content = entry_text(b.path, entry);
  ASSERT_GT(content.size(), 200u);
  const std::string size = std::to_string(content.size());
  const std::string url = "http://" + s.host() + "/v2/" + repository_of(image.source) + "/blobs/sha256:" + entry.substr(13);

  Http whole = http(url);
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.body, content);
  EXPECT_EQ(whole.header("docker-content-digest"), "sha256:" + entry.substr(13));
  EXPECT_EQ(whole.header("content-length"), size);

  Http head = http(url, {"-I"});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), size);
  EXPECT_TRUE(head.body.empty());

  Http part = http(url, {"-H", "Range: bytes=10-99"});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, content.substr(10, 90));
  EXPECT_EQ(part.header("content-range"), "bytes 10-99/" + size);

  Http tail = http(url, {"-H", "Range: bytes=-5"});
  EXPECT_EQ(tail.status, 206);
  EXPECT_EQ(tail.body, content.substr(content.size() - 5));

  Http open = http(url, {"-H", "Range: bytes=100-"});
  EXPECT_EQ(open.status, 206);
  EXPECT_EQ(open.body, content.substr(100));

  for (const std::string& huge : std::vector<std::string>{"bytes=" + size + "-", "bytes=18446744073709551615-18446744073709551615"}) {
    Http out = http(url, {"-H", "Range: " + huge});
    EXPECT_EQ(out.status, 416) << huge;
    EXPECT_EQ(out.header("content-range"), "bytes */" + size) << huge;
  }
  // Malformed, overflowing or several ranges: ignored, the whole blob (RFC 9110 §14.2).
  for (const std::string ignored : {"bytes=abc", "bytes=99999999999999999999999-", "bytes=1-2,5-6", "items=1-2"}) {
    Http out = http(url, {"-H", "Range: " + ignored});
    EXPECT_EQ(out.status, 200) << ignored;
    EXPECT_EQ(out.body, content) << ignored;
  }
}

TEST(Serve, HostileRequestsGetClearRefusals) {
  const auto& b = full_bundle();
  Served& s = served();
  const std::string base = "http://" + s.host();
  const bundle::Root root = root_of(b.path);
  const auto& image = root.images.at(0);
  const std::string repo = repository_of(image.source);

  struct Case {
    std::string path;
    int status;
    std::string code;
  };
  const std::string zeros(64, '0');
  for (const Case& c : std::vector<Case>{
           {"/v2/ai-saas/../../../../etc/passwd/manifests/latest", 400, "NAME_INVALID"},
           {"/v2/ai-saas/%2e%2e/%2e%2e/etc/passwd/manifests/latest", 400, "NAME_INVALID"},
           {"/v2/../../etc/passwd/blobs/sha256:" + zeros, 400, "NAME_INVALID"},
           // Decoded, the last two components are "etc/passwd": no endpoint of the API.
           {"/v2/" + repo + "/blobs/..%2f..%2f..%2fetc%2fpasswd", 404, "UNSUPPORTED"},
           {"/v2/" + repo + "/blobs/..", 400, "DIGEST_INVALID"},
           {"/v2/" + repo + "/blobs/%2e%2e", 400, "DIGEST_INVALID"},
           {"/v2/" + repo + "/blobs/sha256:" + zeros, 404, "BLOB_UNKNOWN"},
           {"/v2/" + repo + "/blobs/sha256:xyz", 400, "DIGEST_INVALID"},
           {"/v2/" + repo + "/blobs/sha512:" + std::string(128, '0'), 400, "DIGEST_INVALID"},
           {"/v2/" + repo + "/manifests/sha256:" + zeros, 404, "MANIFEST_UNKNOWN"},
           {"/v2/" + repo + "/manifests/no-such-tag", 404, "MANIFEST_UNKNOWN"},
           {"/v2/" + repo + "/manifests/-bad", 400, "TAG_INVALID"},
           {"/v2/ai-saas/not/here/tags/list", 404, "NAME_UNKNOWN"},
           {"/v2/Upper/Case/tags/list", 400, "NAME_INVALID"},
           {"/v2/" + std::string(300, 'a') + "/tags/list", 400, "NAME_INVALID"},
           {"/v2/_catalog?n=abc", 400, "PAGINATION_NUMBER_INVALID"},
       }) {
    Http h = http(base + c.path);
    EXPECT_EQ(h.status, c.status) << c.path << "\n" << h.body;
    EXPECT_EQ(error_code(h), c.code) << c.path;
    EXPECT_EQ(h.body.find("root:"), std::string::npos) << c.path;
  }
  // A layer asked for in a repository that does not hold it: unknown there.
  Http elsewhere = http(base + "/v2/" + std::string(kChartRepository) + "/blobs/" + first_layer(b.path, image.source).replace(0, 13, "sha256:"));
  EXPECT_EQ(elsewhere.status, 404);
  // Every write method: 405 with an OCI error body, nothing read of what it sends.
  for (const std::string method : {"PUT", "POST", "PATCH", "DELETE"}) {
    for (const std::string& path : std::vector<std::string>{"/v2/" + repo + "/manifests/latest", "/v2/" + repo + "/blobs/uploads/",
                                                            "/v2/" + repo + "/blobs/sha256:" + zeros}) {
      Http h = http(base + path, {"-X", method, "--data-binary", "{\"schemaVersion\":2}"});
      EXPECT_EQ(h.status, 405) << method << " " << path;
      EXPECT_EQ(error_code(h), "UNSUPPORTED") << method << " " << path;
    }
  }
  // Harbor's API is not here: install's detection sees "an OCI registry that is not Harbor".
  EXPECT_EQ(http(base + "/api/v2.0/systeminfo").status, 404);
  Http v2 = http(base + "/v2/");
  EXPECT_EQ(v2.status, 200);
  EXPECT_EQ(v2.header("docker-distribution-api-version"), "registry/2.0");
  EXPECT_TRUE(s.process().running());
}

// 2000 connections at once against a limit of 256, each sending a request and waiting (bounded by
// a deadline) for its answer: the server answers what it takes, refuses or queues the rest, and
// answers normally afterwards. They come from 200 addresses, 10 each, under the per-address limit.
TEST(Serve, ThousandsOfConcurrentConnectionsLeaveItAnswering) {
  Served& s = served();
  constexpr int kConnections = 2000;
  std::vector<int> fds;
  const std::string request = "GET /v2/ HTTP/1.1\r\nHost: " + s.host() + "\r\n\r\n";
  for (int i = 0; i < kConnections; ++i) {
    int fd = connect_from(s.port(), 10 + i % 200);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  std::vector<bool> sent(fds.size()), done(fds.size());
  size_t answered = 0, closed = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (answered + closed < fds.size() && std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> p;
    std::vector<size_t> which;
    for (size_t i = 0; i < fds.size(); ++i)
      if (!done[i]) {
        p.push_back({fds[i], static_cast<short>(sent[i] ? POLLIN : POLLOUT), 0});
        which.push_back(i);
      }
    if (poll(p.data(), p.size(), 1000) <= 0) continue;
    for (size_t k = 0; k < p.size(); ++k) {
      size_t i = which[k];
      if (p[k].revents & (POLLERR | POLLHUP) && !(p[k].revents & POLLIN)) {
        done[i] = true;
        ++closed;
      } else if (!sent[i] && (p[k].revents & POLLOUT)) {
        sent[i] = write(fds[i], request.data(), request.size()) == static_cast<ssize_t>(request.size());
      } else if (p[k].revents & POLLIN) {
        char buf[512];
        ssize_t n = read(fds[i], buf, sizeof buf);
        done[i] = true;
        if (n > 12 && std::string_view(buf, 12) == "HTTP/1.1 200")
          ++answered;
        else
          ++closed;
      }
    }
  }
  for (int fd : fds) close(fd);
  std::printf("%zu of %d connections answered, %zu closed unanswered\n", answered, kConnections, closed);
  EXPECT_GE(answered, 256u) << "answered " << answered << ", closed " << closed << " of " << kConnections;

  // Then 2000 that send half a request line and stay: they take every slot until they go.
  fds.clear();
  for (int i = 0; i < kConnections; ++i) {
    int fd = connect_from(s.port(), 10 + i % 200);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  for (int fd : fds) (void)!write(fd, "GET /v2/ai-saas/", 16);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_TRUE(s.process().running()) << s.process().log_tail();
  for (int fd : fds) close(fd);
  ASSERT_TRUE(s.process().running()) << s.process().log_tail();
  EXPECT_EQ(http("http://" + s.host() + "/v2/").status, 200);
  EXPECT_EQ(trimmed(crane({"digest", "--insecure",
                           s.host() + "/" + std::string(kChartRepository) + ":1.0.0"})
                        .out),
            root_of(full_bundle().path).chart.manifest.str());
}

// 256 connections from one address that trickle their request line a byte at a time: that address
// holds at most --max-connections-per-address (16) of the 256 slots, the rest are closed at once,
// and a client from another address is answered at once.
TEST(Serve, ASlowClientCannotHoldEverySlot) {
  Served& s = served();
  std::vector<int> fds;
  for (int i = 0; i < 256; ++i) {
    int fd = connect_from(s.port(), 2);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  const std::string line = "GET /v2/ HTTP/1.1";
  std::vector<bool> open(fds.size(), true);
  auto trickle = [&](size_t at) {
    for (size_t i = 0; i < fds.size(); ++i)
      if (open[i] && send(fds[i], line.data() + at, 1, MSG_NOSIGNAL) != 1) open[i] = false;
  };
  std::this_thread::sleep_for(std::chrono::seconds(1));
  trickle(0);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  trickle(1);
  const auto start = std::chrono::steady_clock::now();
  Http other = http("http://" + s.host() + "/v2/", {"--max-time", "5"});
  EXPECT_EQ(other.status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // The server closed what it did not take: a read sees the end (or a reset), not "would block".
  std::this_thread::sleep_for(std::chrono::seconds(1));
  trickle(2);
  size_t held = 0;
  for (size_t i = 0; i < fds.size(); ++i) {
    char c;
    if (open[i] && read(fds[i], &c, 1) < 0 && errno == EAGAIN) ++held;
    close(fds[i]);
  }
  EXPECT_LE(held, 16u);
  EXPECT_GE(held, 1u) << "the address still gets its share";
  EXPECT_TRUE(s.process().running());
}

// A request head that is not complete within --head-timeout closes the connection, however slowly
// its bytes keep coming (here one a second, where the idle timeout is 60 s).
TEST(Serve, ARequestHeadHasADeadline) {
  Served s(full_bundle().path, {"--head-timeout", "3"});
  int fd = connect_from(s.port(), 3);
  ASSERT_GE(fd, 0);
  const std::string line = "GET /v2/ HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (size_t at = 0; at < line.size() && !closed; ++at) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    char c;
    ssize_t n = read(fd, &c, 1);
    closed = n == 0 || (n < 0 && errno != EAGAIN) || send(fd, line.data() + at, 1, MSG_NOSIGNAL) != 1;
  }
  close(fd);
  EXPECT_TRUE(closed) << "still open after " << line.size() << " s of trickling";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  // A client that sends its request at once is served as before.
  EXPECT_EQ(http("http://" + s.host() + "/v2/").status, 200);
}

TEST(Serve, BasicAuthFromAnHtpasswdFile) {
  fs::path file = scratch("htpasswd");
  must_run({"htpasswd", "-B", "-b", "-c", file.string(), "puller", "pull-pw"});
  Served s(full_bundle().path, {"--htpasswd", file.string()});
  const std::string v2 = "http://" + s.host() + "/v2/";
  Http anonymous = http(v2);
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.header("www-authenticate"), "basic realm=\"sealift\"");
  EXPECT_EQ(error_code(anonymous), "UNAUTHORIZED");
  // Each from an address of its own: a failure delays the next check from its address.
  EXPECT_EQ(http(v2, {"-u", "puller:wrong", "--interface", "127.0.0.3"}).status, 401);
  EXPECT_EQ(http(v2, {"-u", "someone:pull-pw", "--interface", "127.0.0.4"}).status, 401);
  EXPECT_EQ(http(v2, {"-u", "puller:pull-pw"}).status, 200);
  // Right after a failure, that address is not checked again: no bcrypt for a guesser, 429 and
  // when to come back. The delay doubles with each failure (1, 2, 4 s…), so on a machine slow
  // enough to start curl only after the first one ran out, a later guess still meets it.
  Http soon;
  for (int guess = 0; guess < 8 && soon.status != 429; ++guess)
    soon = http(v2, {"-u", "puller:guess" + std::to_string(guess), "--interface", "127.0.0.3"});
  EXPECT_EQ(soon.status, 429);
  EXPECT_EQ(soon.header("retry-after"), "1");
  EXPECT_EQ(error_code(soon), "TOOMANYREQUESTS");
  EXPECT_EQ(http(v2, {"-u", "puller:pull-pw", "--interface", "127.0.0.3"}).status, 200);
  EXPECT_EQ(http("http://" + s.host() + "/api/v2.0/systeminfo").status, 404);

  fs::path home = scratch("auth-home");
  fs::create_directories(home);
  nlohmann::json config;
  config["auths"][s.host()]["auth"] = util::base64_encode("puller:pull-pw");
  util::write_file_atomic(home / "config.json", config.dump(), 0600);
  EXPECT_EQ(trimmed(crane({"digest", "--insecure", s.host() + "/" + std::string(kChartRepository) + ":1.0.0"}, home).out),
            root_of(full_bundle().path).chart.manifest.str());
  EXPECT_NE(crane({"digest", "--insecure", s.host() + "/" + std::string(kChartRepository) + ":1.0.0"}).exit_code, 0);

  // An htpasswd hash crypt(3) cannot check (Apache's MD5) is refused at start, naming the line.
  fs::path md5 = scratch("htpasswd-md5");
  must_run({"htpasswd", "-m", "-b", "-c", md5.string(), "puller", "pull-pw"});
  RunResult r = install({"serve", full_bundle().path.string(), "--key", factory().public_key().string(), "--project",
                         "ai-saas", "--listen", "127.0.0.1:0", "--htpasswd", md5.string()});
  EXPECT_EQ(r.exit_code, 3) << said(r);
  EXPECT_NE(r.err.find("line 1: the hash of user puller is not one crypt(3) can check"), std::string::npos) << said(r);
}

// Basic auth over plain HTTP on an address other hosts reach would send every password in clear:
// a usage error before the bundle is read, unless --insecure-plain-auth says so.
TEST(Serve, BasicAuthWithoutTlsOnANetworkAddressIsRefused) {
  fs::path file = scratch("htpasswd-plain");
  must_run({"htpasswd", "-B", "-C", "4", "-b", "-c", file.string(), "puller", "pull-pw"});
  for (const std::string listen : {"0.0.0.0:0", ":0", "192.0.2.10:0", "[::]:0"}) {
    RunResult r = serve_refused(full_bundle().path, {"--listen", listen, "--htpasswd", file.string()});
    EXPECT_EQ(r.exit_code, 2) << listen << "\n" << said(r);
    EXPECT_NE(r.err.find("--htpasswd without --tls-cert"), std::string::npos) << said(r);
    EXPECT_NE(r.err.find("--insecure-plain-auth"), std::string::npos) << said(r);
    EXPECT_EQ(r.out.find("serving"), std::string::npos) << said(r);
  }
  // free_port() checked the port on 127.0.0.1; a suite running beside this one may take it before
  // serve binds 0.0.0.0, so a bind that fails is retried on another port (a few times at most).
  int port = 0;
  std::unique_ptr<testenv::Process> allowed;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port = testenv::free_port();
    std::vector<std::string> argv = {"setpriv", "--pdeathsig", "KILL", "--", testenv::install_program(), "serve",
                                     full_bundle().path.string(), "--key", factory().public_key().string(),
                                     "--project", std::string(kProject), "--listen", "0.0.0.0:" + std::to_string(port),
                                     "--htpasswd", file.string(), "--insecure-plain-auth"};
    allowed = std::make_unique<testenv::Process>(argv, scratch("serve-plain-auth-" + std::to_string(attempt) + ".log"));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (!testenv::wait_for_port(port, 0.5) && allowed->running() && std::chrono::steady_clock::now() < deadline) {
    }
    if (allowed->running() || allowed->log_tail().find("cannot serve on") == std::string::npos) break;
  }
  EXPECT_EQ(http("http://127.0.0.1:" + std::to_string(port) + "/v2/", {"-u", "puller:pull-pw"}).status, 200)
      << allowed->log_tail();
}

TEST(Serve, TlsWithACertificateTheClientsVerify) {
  auto certs = testenv::make_test_certificates(scratch("tls"));
  // A key every user can read is served, with a warning.
  fs::permissions(certs.server_key, fs::perms::others_read, fs::perm_options::add);
  Served s(full_bundle().path, {"--tls-cert", certs.server_cert.string(), "--tls-key", certs.server_key.string()});
  EXPECT_EQ(http("https://" + s.host() + "/v2/", {"--cacert", certs.ca_cert.string()}).status, 200);
  EXPECT_NE(util::read_file(s.process().log()).find("warning: the TLS key " + certs.server_key.string() +
                                                    " can be read by every user"),
            std::string::npos)
      << s.process().log_tail();
  // TLS 1.2 and 1.3 only, whatever GnuTLS would offer by default. openssl needs security level 0
  // to offer TLS 1.1 at all.
  for (const std::string version : {"-tls1", "-tls1_1", "-tls1_2", "-tls1_3"}) {
    RunResult r = testenv::run({"sh", "-c", "openssl s_client -connect " + s.host() + " " + version +
                                                " -cipher DEFAULT:@SECLEVEL=0 -CAfile " + certs.ca_cert.string() +
                                                " </dev/null"});
    const bool modern = version == "-tls1_2" || version == "-tls1_3";
    EXPECT_EQ(r.exit_code == 0, modern) << version << "\n" << said(r);
  }
  RunResult untrusted = testenv::run({"curl", "-sS", "https://" + s.host() + "/v2/"});
  EXPECT_EQ(untrusted.exit_code, 60) << said(untrusted);  // peer certificate cannot be authenticated
  bundle::Root root = root_of(full_bundle().path);
  const auto& image = root.images.at(0);
  RunResult inspect = must_run({"skopeo", "inspect", "--raw", "--cert-dir", certs.ca_cert.parent_path().string(),
                                "docker://" + s.host() + "/" + repository_of(image.source) + "@" + image.digest.str()});
  EXPECT_EQ(oci::Digest::of(inspect.out), image.digest);
}

TEST(Serve, ASplitBundleIsServedFromItsParts) {
  testenv::BundleSpec spec;
  spec.images = {"postgres", "frontend"};
  spec.split_size = "256K";
  auto b = factory().build(spec, factory().dir() / "split.tar.zst");
  ASSERT_GT(b.files.size(), 2u);
  Served s(b.path, {"--json"});
  // --json: one document on stdout once it listens, naming where and what it serves.
  nlohmann::json started;
  for (size_t tries = 0; tries < 50 && started.is_null(); ++tries) {
    std::istringstream log(util::read_file(s.process().log()));
    for (std::string line; std::getline(log, line);)
      if (line.find("\"url\"") != std::string::npos) started = nlohmann::json::parse(line);
    if (started.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(started.is_null()) << s.process().log_tail();
  EXPECT_EQ(started["url"], "http://" + s.host());
  EXPECT_EQ(started["repositories"].size(), 3u) << started.dump();
  EXPECT_EQ(started["repositories"].count(std::string(kChartRepository)), 1u) << started.dump();
  for (const auto& image : root_of(b.path).images) {
    fs::path dir = scratch("split-copy/" + ref::Reference::parse(image.source).repository);
    must_run({"skopeo", "copy", "--quiet", "--all", "--src-tls-verify=false",
              "docker://" + s.host() + "/" + repository_of(image.source) + "@" + image.digest.str(),
              "dir:" + dir.string()});
    EXPECT_EQ(oci::Digest::of(util::read_file(dir / "manifest.json")), image.digest) << image.source;
  }
}

TEST(Serve, ABundleThatDoesNotVerifyIsRefusedBeforeListening) {
  const auto& b = full_bundle();
  const bundle::Root root = root_of(b.path);
  const auto& image = root.images.at(0);
  const std::string layer = first_layer(b.path, image.source);
  fs::path tampered = scratch("tampered.tar.zst");
  {
    bundle::ArchiveReader reader(b.path);
    util::write_file_atomic(tampered, testenv::flip_content_byte(util::read_file(b.path), reader, layer, 10));
  }
  const int port = testenv::free_port();
  RunResult r = install({"serve", tampered.string(), "--key", factory().public_key().string(), "--project", "ai-saas",
                         "--listen", "127.0.0.1:" + std::to_string(port)});
  EXPECT_NE(r.exit_code, 0) << said(r);
  EXPECT_NE(r.err.find(layer), std::string::npos) << said(r);
  EXPECT_EQ(r.out.find("serving"), std::string::npos) << said(r);

  RunResult stranger = install({"serve", b.path.string(), "--key", factory().other_key("stranger").string(),
                                "--project", "ai-saas", "--listen", "127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(stranger.exit_code, 4) << said(stranger);
  EXPECT_EQ(stranger.out.find("serving"), std::string::npos) << said(stranger);

  RunResult delta = install({"serve", delta_pair().delta.path.string(), "--key", factory().public_key().string(),
                             "--project", "ai-saas", "--listen", "127.0.0.1:" + std::to_string(port)});
  EXPECT_EQ(delta.exit_code, 2) << said(delta);
  EXPECT_NE(delta.err.find("cannot be served alone"), std::string::npos) << said(delta);
}

// The framing of a bundle is not signed. serve reads the bundle again for every answer and needs
// the seek table's frame checksums to notice bytes changed after it verified them, and bounds the
// frame every open blob decompresses: a re-framed bundle without checksums, or with frames over
// 4 MiB, is refused before it is verified (the signature still holds for both).
TEST(Serve, ABundleReFramedWithoutChecksumsOrWithLargeFramesIsRefused) {
  const std::string bytes = util::read_file(full_bundle().path);
  auto all = std::as_bytes(std::span(bytes));
  bundle::SeekTableFooter footer = bundle::parse_seek_table_footer(all.last(bundle::kSeekTableFooterSize), bytes.size());
  std::vector<bundle::SeekEntry> table = bundle::parse_seek_table(all.last(footer.table_size), footer);
  std::string payload;
  auto put_le32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) payload.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  for (const auto& e : table) {
    put_le32(e.compressed_size);
    put_le32(e.decompressed_size);
  }
  put_le32(static_cast<uint32_t>(table.size()));
  payload.push_back(0);  // descriptor: no checksums
  put_le32(bundle::kSeekableMagic);
  fs::path unchecked = scratch("no-frame-checksums.tar.zst");
  util::write_file_atomic(unchecked, bytes.substr(0, bytes.size() - footer.table_size) +
                                         bundle::skippable_frame(bundle::kSeekTableMagic, payload));
  {
    bundle::ArchiveReader reader(unchecked);
    ASSERT_FALSE(reader.frames().at(0).has_checksum);
  }
  RunResult r = serve_refused(unchecked, {"--listen", "127.0.0.1:0"});
  EXPECT_EQ(r.exit_code, 4) << said(r);
  EXPECT_NE(r.err.find("carries no frame checksums"), std::string::npos) << said(r);

  fs::path large = scratch("large-frames.tar.zst");
  {
    bundle::ArchiveReader reader(full_bundle().path);
    bundle::WriterOptions options;
    options.compression.frame_size = 16u << 20;
    bundle::ArchiveWriter writer(large, options);
    for (const auto& e : reader.entries()) {
      auto source = reader.open(e.name);
      writer.add(e.name, e.size, *source);
    }
    // The fixture's entries are small, and a large entry starts a frame of its own: 5 MiB more
    // make one frame over the limit (the refusal comes before the signature is checked).
    writer.add_bytes("padding", std::string(5u << 20, 'x'));
    writer.finish();
  }
  bool has_large_frame = false;
  // A named reader: a range-for over what a temporary returns by reference outlives it.
  const bundle::ArchiveReader large_reader(large);
  for (const auto& f : large_reader.frames()) has_large_frame |= f.size > (4u << 20);
  ASSERT_TRUE(has_large_frame) << "the fixture bundle is too small to make a frame over 4 MiB";
  RunResult big = serve_refused(large, {"--listen", "127.0.0.1:0"});
  EXPECT_EQ(big.exit_code, 4) << said(big);
  EXPECT_NE(big.err.find("more than the 4194304 serve decompresses"), std::string::npos) << said(big);
}

// The images in the cluster come from `host` by digest, and crane pulls each of them from there.
void expect_installed_from(const std::string& host, const std::string& ns) {
  auto& cluster = testenv::Cluster::shared();
  RunResult d = cluster.kubectl({"get", "deployments", "-n", ns, "-o", "json"});
  ASSERT_EQ(d.exit_code, 0) << said(d);
  const auto deployments = nlohmann::json::parse(d.out).at("items");
  EXPECT_EQ(deployments.size(), full_bundle().lock.images.size()) << d.out;
  for (const auto& deployment : deployments)
    for (const auto& c : deployment["spec"]["template"]["spec"]["containers"]) {
      const std::string image = c["image"];
      EXPECT_EQ(image.rfind(host + "/ai-saas/", 0), 0u) << image;
      ASSERT_NE(image.find("@sha256:"), std::string::npos) << image;
      EXPECT_EQ(trimmed(crane({"digest", "--insecure", image}).out), image.substr(image.find('@') + 1)) << image;
      fs::path out = scratch("installed-pull/" + ns + "/" + std::to_string(std::hash<std::string>{}(image)));
      RunResult pull = crane({"pull", "--insecure", "--format", "oci", image, out.string()});
      EXPECT_EQ(pull.exit_code, 0) << said(pull);
    }
}

RunResult install_without_push(const std::string& host, const std::string& ns) {
  auto& cluster = testenv::Cluster::shared();
  auto env = cluster.env();
  return install({"install", full_bundle().path.string(), "--key", factory().public_key().string(), "--registry", host,
                  "--project", "ai-saas", "--registry-type", "oci", "--plain-http", "--skip-push", "-n", ns,
                  "--helm", testenv::peer("helm"), "--kubeconfig", cluster.kubeconfig().string(), "--timeout", "2m",
                  "--quiet"},
                 env);
}

// The two-step install for a site without a registry: `serve` (here a process; at a site a
// systemd unit on a host the nodes reach), then `install --skip-push --registry` at it.
TEST(Serve, InstallWithTheImagesFromTheServer) {
  Served& s = served();
  RunResult r = install_without_push(s.host(), "served");
  ASSERT_EQ(r.exit_code, 0) << said(r);
  expect_installed_from(s.host(), "served");
}

// `skopeo sync` of every repository into an empty docker-registry gives a registry the install
// works from, with the signatures (the .sig tags and the referrers tags) copied along.
TEST(Serve, SkopeoSyncIntoAnEmptyDockerRegistryThenInstall) {
  Served& s = served();
  testenv::Registry target;
  auto catalog = nlohmann::json::parse(http("http://" + s.host() + "/v2/_catalog").body);
  for (const std::string repo : catalog["repositories"]) {
    must_run({"skopeo", "sync", "--src", "docker", "--dest", "docker", "--all", "--src-tls-verify=false",
              "--dest-tls-verify=false", s.host() + "/" + repo,
              target.host() + "/" + repo.substr(0, repo.rfind('/'))});
  }
  bundle::Root root = root_of(full_bundle().path);
  for (const auto& image : root.images) {
    const std::string pinned = target.host() + "/" + repository_of(image.source) + "@" + image.digest.str();
    EXPECT_EQ(trimmed(crane({"digest", "--insecure", target.host() + "/" + repository_of(image.source) + ":" +
                                                        ref::Reference::parse(image.source).tag})
                          .out),
              image.digest.str());
    for (const std::string cosign : {"cosign3", "cosign3-legacy"}) {
      RunResult v = cosign_verify_offline(pinned, factory().public_key(), cosign, client_home());
      EXPECT_EQ(v.exit_code, 0) << cosign << " " << pinned << "\n" << said(v);
    }
  }
  RunResult r = install_without_push(target.host(), "synced");
  ASSERT_EQ(r.exit_code, 0) << said(r);
  expect_installed_from(target.host(), "synced");
}

}  // namespace
}  // namespace sealift::install::testing
