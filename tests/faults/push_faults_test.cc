// `sealift-install push` through the fault proxy into a Harbor-like target: every fault kind at
// several points of the push. Each push either succeeds through its retries or ends by itself
// with an error naming what failed; no tag ever points at missing content; with the fault gone a
// re-run completes, and the project then holds exactly what a clean push into a registry of its
// own holds (every tag -> manifest digest, every manifest and blob below, blobs downloaded and
// their digests checked).
#include <algorithm>
#include <atomic>
#include <mutex>

#include "bundle/archive_reader.h"
#include "bundle/layout.h"
#include "harness.h"

namespace sealift::faults::testing {
namespace {

struct Scenario {
  Scenario(std::string n, std::vector<FaultRule> r, bool must = true, std::string what = {})
      : name(std::move(n)), rules(std::move(r)), must_succeed(must), names(std::move(what)) {}
  std::string name;
  std::vector<FaultRule> rules;
  // false: the push may also fail, and then its error must contain `names`.
  bool must_succeed = true;
  std::string names;
};

// Layer digests of the bundle, largest first, with their sizes.
std::vector<std::pair<std::string, uint64_t>> layers_by_size() {
  const auto& b = vendor_bundle();
  bundle::ArchiveReader reader(b.path);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& image : b.fixtures.images)
    for (const auto& m : image.manifests)
      for (const auto& layer : m.layers) {
        if (std::any_of(out.begin(), out.end(), [&](const auto& l) { return l.first == layer; })) continue;
        const bundle::TocEntry* e = reader.find(bundle::blob_path(oci::Digest::parse(layer)));
        if (e) out.emplace_back(layer, e->size);
      }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

// What picks one blob's upload out of the requests: its digest's hex, which the final PUT carries
// in its (URL-encoded) ?digest= query.
std::string upload_of(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

FaultRule with(FaultRule r, std::function<void(FaultRule&)> change) {
  change(r);
  return r;
}

// Runs the scenarios, six at a time (they mostly wait: backoff, stall timeouts), each through a proxy of its own into a project of its own.
void run_scenarios(Target& target, const std::vector<Scenario>& scenarios) {
  const Content& clean = clean_push();
  ASSERT_GE(clean.tag_count(), vendor_bundle().lock.images.size() * 2 + 2) << "images, signatures, chart";
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < scenarios.size();) {
      const Scenario& s = scenarios[i];
      SCOPED_TRACE(s.name);
      const std::string project = "fault-" + std::to_string(i);
      FaultProxy proxy(target.port());
      std::vector<int> rules;
      for (const auto& r : s.rules) rules.push_back(proxy.add(r));

      RunResult first = target.push(proxy.host(), project, vendor_bundle().path);
      EXPECT_TRUE(ended_by_itself(first)) << "the push hung: " << said(first);
      for (int r : rules) EXPECT_GE(proxy.faults(r), 1u) << "rule " << r << " never fired; requests seen: " << proxy.requests();
      if (s.must_succeed) {
        EXPECT_EQ(first.exit_code, 0) << "the retries should have carried the push through: " << said(first)
                                       << "\nthe proxy saw:\n" << proxy_log(proxy);
      } else if (first.exit_code != 0) {
        EXPECT_NE(first.err.find(s.names), std::string::npos) << "the error should name " << s.names << ": " << said(first);
      }
      target.expect_no_dangling_tag(project, "after the faulted push");

      proxy.clear();
      RunResult again = target.push(proxy.host(), project, vendor_bundle().path);
      EXPECT_EQ(again.exit_code, 0) << said(again);
      Content c = target.walk(project, /*fetch=*/true);
      EXPECT_TRUE(c.missing.empty()) << c.missing.front();
      EXPECT_EQ(c.tags, clean.tags);
      EXPECT_EQ(c.reachable, clean.reachable);
    }
  };
  std::vector<std::jthread> workers;
  for (int w = 0; w < 6; ++w) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
}

TEST(PushFaults, DroppedStalledAndSlowedConnectionsAtSeveralPoints) {
  Target target;
  auto layers = layers_by_size();
  ASSERT_GE(layers.size(), 4u);
  const auto& [big, big_size] = layers[0];
  const auto& [third, third_size] = layers[2];
  std::string tag = "/library/redis/manifests/7.4";
  std::vector<Scenario> scenarios = {
      // Drop mid-blob upload: at its first body byte, in its middle, just before its end.
      {"drop the largest layer's upload after 1 byte",
       {with(FaultRule::drop_request("PUT", upload_of(big), 1), [](FaultRule& r) { r.from_body = true; })}},
      {"drop the largest layer's upload half-way",
       {with(FaultRule::drop_request("PUT", upload_of(big), big_size / 2), [](FaultRule& r) { r.from_body = true; })}},
      {"drop the third layer's upload 1 byte before its end, twice",
       {with(FaultRule::drop_request("PUT", upload_of(third), third_size - 1, 2), [](FaultRule& r) { r.from_body = true; })}},
      // The blob arrived, the answer did not: the client must find it there.
      {"lose the answer to a finished layer upload", {FaultRule::drop_response("PUT", upload_of(big), 0)}},
      {"drop the first upload session's answer", {FaultRule::drop_response("POST", "/blobs/uploads/", 0)}},
      // Drop mid-manifest PUT: a platform manifest, an index, the tag, the signature's tag.
      {"drop the first manifest PUT mid-body",
       {with(FaultRule::drop_request("PUT", "/manifests/", 40), [](FaultRule& r) { r.from_body = true; })}},
      {"drop the fourth manifest PUT mid-body",
       {with(FaultRule::drop_request("PUT", "/manifests/", 100), [](FaultRule& r) { r.from_body = true, r.nth = 4; })}},
      {"drop the tag PUT mid-body",
       {with(FaultRule::drop_request("PUT", tag, 10), [](FaultRule& r) { r.from_body = true; })}},
      {"lose the answer to the signature tag PUT", {FaultRule::drop_response("PUT", ".sig", 0)}},
      {"drop a read-back manifest GET mid-answer",
       {with(FaultRule::drop_response("GET", "/manifests/", 20), [](FaultRule& r) { r.from_body = true; })}},
      // Stalls beyond the client's stall timeout (held for good), and one below it.
      {"stall the largest layer's upload half-way, for good",
       {with(FaultRule::drop_request("PUT", upload_of(big), big_size / 2),
             [](FaultRule& r) { r.fault = Fault::StallRequest, r.from_body = true, r.stall_s = -1; })}},
      {"stall the answer to the third layer's upload, for good",
       {with(FaultRule::drop_response("PUT", upload_of(third), 0), [](FaultRule& r) { r.fault = Fault::StallResponse; })}},
      {"stall the tag PUT's answer for good, twice",
       {with(FaultRule::drop_response("PUT", tag, 0, 2), [](FaultRule& r) { r.fault = Fault::StallResponse; })}},
      {"stall every manifest PUT for 1 s (below the stall timeout)",
       {with(FaultRule::drop_request("PUT", "/manifests/", 0, -1),
             [](FaultRule& r) { r.fault = Fault::StallRequest, r.stall_s = 1; })}},
      // Slow links: one layer's upload, and every answer of the read-back.
      {"slow the largest layer's upload to 256 KiB/s",
       {with(FaultRule::drop_request("PUT", upload_of(big), 0), [](FaultRule& r) { r.fault = Fault::Slow, r.bytes_per_s = 256 << 10; })}},
      {"slow every manifest GET to 16 KiB/s",
       {with(FaultRule::drop_request("GET", "/manifests/", 0, -1), [](FaultRule& r) { r.fault = Fault::Slow, r.bytes_per_s = 16 << 10; })}},
  };
  run_scenarios(target, scenarios);
}

TEST(PushFaults, ErrorAnswersAtSeveralPoints) {
  Target target;
  auto layers = layers_by_size();
  ASSERT_GE(layers.size(), 2u);
  const std::string big = layers[0].first;
  auto retry_after = [](FaultRule r, const std::string& value) {
    r.retry_after = value;
    return r;
  };
  std::vector<Scenario> scenarios = {
      {"500 on the project check", {FaultRule::respond("HEAD", "/api/v2.0/projects", 500)}},
      {"500 on the push-permission probe", {FaultRule::respond("POST", "/blobs/uploads/", 500)}},
      {"500 on the second blob HEAD", {with(FaultRule::respond("HEAD", "/blobs/", 500), [](FaultRule& r) { r.nth = 2; })}},
      {"500 on the largest layer's upload, three times", {FaultRule::respond("PUT", upload_of(big), 500, 3)}},
      {"500 on the third manifest PUT", {with(FaultRule::respond("PUT", "/manifests/", 500), [](FaultRule& r) { r.nth = 3; })}},
      {"500 on the chart's tag PUT", {FaultRule::respond("PUT", "/charts/sealift-test-app/manifests/1.0.0", 500)}},
      {"429 with Retry-After on two upload sessions",
       {retry_after(FaultRule::respond("POST", "/blobs/uploads/", 429, 2), "1")}},
      {"429 with Retry-After on every manifest HEAD, twice", {retry_after(FaultRule::respond("HEAD", "/manifests/", 429, 2), "1")}},
      {"502 on the largest layer's upload", {FaultRule::respond("PUT", upload_of(big), 502)}},
      {"502 on two tag PUTs", {FaultRule::respond("PUT", "/library/postgres/manifests/16.4", 502, 2)}},
      {"502 on the read-back of a signature", {FaultRule::respond("GET", ".sig", 502)}},
      {"502 on the project check, twice", {FaultRule::respond("HEAD", "/api/v2.0/projects", 502, 2)}},
  };
  run_scenarios(target, scenarios);
}

// A 429 is waited out as its Retry-After says, not sooner.
TEST(PushFaults, RetryAfterIsHonoured) {
  Target target;
  FaultProxy proxy(target.port());
  FaultRule rule = FaultRule::respond("PUT", "/manifests/", 429, 1);
  rule.retry_after = "2";
  proxy.add(rule);
  RunResult r = target.push(proxy.host(), "ai-saas", vendor_bundle().path);
  ASSERT_EQ(r.exit_code, 0) << said(r);
  auto log = proxy.log();
  auto refused = std::find_if(log.begin(), log.end(), [](const auto& e) { return e.status == 429; });
  ASSERT_NE(refused, log.end());
  auto retried = std::find_if(refused + 1, log.end(), [&](const auto& e) { return e.method == "PUT" && e.path == refused->path; });
  ASSERT_NE(retried, log.end()) << "the refused manifest PUT was never tried again";
  EXPECT_GE(std::chrono::duration<double>(retried->at - refused->at).count(), 1.9);
}

// No tag points at missing content while the push is held up, at several moments: a blob upload
// and the first tag PUT stalled; the walk runs while they hang.
TEST(PushFaults, NoTagPointsAtMissingContentWhileAPushIsStalled) {
  Target target;
  auto layers = layers_by_size();
  FaultRule layer = FaultRule::drop_request("PUT", upload_of(layers[1].first), 0);
  layer.fault = Fault::StallRequest;
  layer.from_body = true;
  FaultRule tag = FaultRule::drop_request("PUT", "/library/postgres/manifests/16.4", 0);
  tag.fault = Fault::StallRequest;
  const std::vector<std::pair<std::string, FaultRule>> moments = {{"a layer upload", layer}, {"the first tag PUT", tag}};
  for (size_t i = 0; i < moments.size(); ++i) {
    const auto& [what, rule] = moments[i];
    SCOPED_TRACE(what);
    std::string project = "stalled-" + std::to_string(i);
    FaultProxy proxy(target.port());
    int id = proxy.add(rule);
    RunResult result;
    std::jthread push([&] { result = target.push(proxy.host(), project, vendor_bundle().path); });
    bool stalled = proxy.wait_for_faults(1, kHangLimit);
    // Several looks while the connection hangs (the client cuts it after its stall timeout).
    for (int look = 0; stalled && look < 3 && proxy.stalled() > 0; ++look) {
      target.expect_no_dangling_tag(project, "while " + what + " is stalled");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    push.join();
    EXPECT_TRUE(stalled) << "the stall never happened";
    EXPECT_GE(proxy.faults(id), 1u);
    EXPECT_TRUE(ended_by_itself(result)) << said(result);
    EXPECT_EQ(result.exit_code, 0) << said(result);
    Content c = target.walk(project);
    EXPECT_TRUE(c.missing.empty());
    EXPECT_EQ(c.tags, clean_push().tags);
  }
}

// Faults that do not go away: the bounded retries end with an error naming what failed, in
// bounded time, with no tag written; a re-run after the fault clears completes.
TEST(PushFaults, PermanentFaultsEndWithAClearErrorInBoundedTime) {
  Target target;
  auto layers = layers_by_size();
  const std::string big = layers[0].first;
  struct Permanent {
    std::string name;
    FaultRule rule;
    std::vector<std::string> names;  // what the error must say
  };
  FaultRule too_many = FaultRule::respond("POST", "/blobs/uploads/", 429, -1);
  too_many.retry_after = "1";
  std::vector<Permanent> cases = {
      {"500 on every upload of the largest layer", FaultRule::respond("PUT", upload_of(big), 500, -1),
       {big.substr(0, 19), "500", "after 6 attempts"}},
      {"502 on every manifest PUT", FaultRule::respond("PUT", "/manifests/", 502, -1), {"502", "after 6 attempts"}},
      {"429 on every upload session", too_many, {"429", "rate limiting"}},
  };
  std::vector<std::jthread> threads;
  std::mutex mu;
  for (size_t i = 0; i < cases.size(); ++i) {
    threads.emplace_back([&, i] {
      const Permanent& p = cases[i];
      SCOPED_TRACE(p.name);
      std::string project = "permanent-" + std::to_string(i);
      FaultProxy proxy(target.port());
      int id = proxy.add(p.rule);
      auto start = Clock::now();
      RunResult r = target.push(proxy.host(), project, vendor_bundle().path);
      double took = seconds_since(start);
      EXPECT_TRUE(ended_by_itself(r)) << "hung: " << said(r);
      EXPECT_NE(r.exit_code, 0) << said(r);
      EXPECT_EQ(r.exit_code, 5) << "a network error after the retries: " << said(r);
      for (const auto& n : p.names) EXPECT_NE(r.err.find(n), std::string::npos) << "should name " << n << ": " << said(r);
      EXPECT_NE(r.err.find(proxy.host()), std::string::npos) << "should name the registry: " << said(r);
      // Six attempts, no more: each failing request is tried once and retried five times.
      EXPECT_GE(proxy.faults(id), 6u);
      EXPECT_LT(took, kHangLimit);
      {
        std::lock_guard lock(mu);
        std::cout << "[ permanent ] " << p.name << ": gave up after " << took << " s, " << proxy.faults(id)
                  << " faults injected\n";
      }
      Content c = target.walk(project);
      EXPECT_TRUE(c.missing.empty());
      for (const auto& [t, d] : c.tags)
        EXPECT_NE(t.find(".sig"), std::string::npos) << "an image tag was written although the push failed: " << t;
      proxy.clear();
      RunResult again = target.push(proxy.host(), project, vendor_bundle().path);
      EXPECT_EQ(again.exit_code, 0) << said(again);
      Content after = target.walk(project, true);
      EXPECT_EQ(after.tags, clean_push().tags);
      EXPECT_EQ(after.reachable, clean_push().reachable);
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace
}  // namespace sealift::faults::testing
