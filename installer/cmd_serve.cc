#include "cmd_serve.h"

#include <pthread.h>

#include <csignal>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/flags.h"
#include "cmd_verify.h"
#include "install/relocation.h"
#include "serve/content.h"
#include "serve/server.h"
#include "util/error.h"

namespace sealift::installer {

namespace {

struct ServeFlags {
  std::string bundle;
  TrustFlags trust;
  std::string project;
  bool keep_source_host = false;
  serve::ServerOptions server;
  std::string tls_cert, tls_key, htpasswd;
  int jobs = 4;
  cli::OutputFlags out;
};

void run_serve(const ServeFlags& f) {
  sign::TrustedKeys keys = trusted_keys(f.trust);
  serve::ServerOptions so = f.server;
  so.tls_cert = f.tls_cert;
  so.tls_key = f.tls_key;
  so.htpasswd = f.htpasswd;
  serve::check_options(so);
  auto [host, port] = serve::parse_listen(so.listen);
  // SIGINT and SIGTERM are taken with sigwait below: blocked before the server's threads start,
  // so they inherit the mask and the signal reaches only this thread.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  // A client that goes away mid-answer must cost its connection, not the server (TLS writes
  // through GnuTLS may not pass MSG_NOSIGNAL).
  std::signal(SIGPIPE, SIG_IGN);

  bundle::ArchiveReader reader(f.bundle);
  serve::check_servable(reader);
  util::Progress progress(f.out.mode());
  // Every byte is hashed before the first one is served: nothing unverified ever leaves.
  install::VerifiedBundle verified =
      verify_for_command(reader, keys, f.trust, f.jobs, progress, install::VerifyScope::Everything);
  install::Relocation relocation = install::relocate(
      verified.root, verified.lock, {fmt::format("{}:{}", host, port), f.project, f.keep_source_host});
  serve::ServedBundle content(reader, verified, relocation);
  serve::Server server(reader, content, so);
  for (const auto& w : server.warnings()) fmt::print(stderr, "sealift-install serve: warning: {}\n", w);

  auto listing = content.listing();
  if (f.out.json) {
    nlohmann::ordered_json j;
    j["name"] = verified.root.name;
    j["version"] = verified.root.version;
    j["url"] = server.url();
    j["port"] = server.port();
    j["project"] = f.project;
    j["repositories"] = listing;
    fmt::print("{}\n", j.dump());
  } else if (!f.out.quiet) {
    fmt::print("serving {} {} read-only at {} ({} repositories under {}/); stop with Ctrl-C\n", verified.root.name,
               verified.root.version, server.url(), listing.size(), f.project);
    for (const auto& image : relocation.images) fmt::print("  {} -> {}:{}\n", image.source, image.repository, image.tag);
    fmt::print("  chart {} -> {}:{}\n", verified.root.chart.name, relocation.chart.repository, relocation.chart.tag);
  }
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop, &signal);
  if (!f.out.quiet && !f.out.json) fmt::print(stderr, "sealift-install serve: stopped ({})\n", strsignal(signal));
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Verify the bundle, then serve it in place as a read-only OCI registry (for a site without one yet)");
  cmd->add_option("bundle", f->bundle, "The bundle file, or its first part (.000)")->required();
  add_trust_flags(cmd, f->trust);
  cmd->add_option("--project", f->project,
                  "First path segment of every repository, as a push with this --project would make them")
      ->required();
  cmd->add_flag("--keep-source-host", f->keep_source_host,
                "Keep the source registry in the path (PROJECT/docker.io/library/postgres)");
  cmd->add_option("--listen", f->server.listen, "HOST:PORT to listen on ([IPv6]:PORT; port 0 picks a free one)")
      ->capture_default_str();
  cmd->add_option("--tls-cert", f->tls_cert, "PEM certificate (chain) to serve HTTPS with")->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", f->tls_key, "PEM private key of --tls-cert")->check(CLI::ExistingFile);
  cmd->add_option("--htpasswd", f->htpasswd, "htpasswd file (bcrypt, `htpasswd -B`): require Basic auth")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--insecure-plain-auth", f->server.insecure_plain_auth,
                "Allow --htpasswd without TLS on an address other hosts reach (passwords cross the network in clear)");
  cmd->add_option("--max-connections", f->server.max_connections, "Connections served at once; more wait in the backlog")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--max-connections-per-address", f->server.max_connections_per_address,
                  "Connections one client address may hold at once; more are closed")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--head-timeout", f->server.head_timeout_seconds,
                  "Seconds a client has to send a request's line and headers, however slowly they trickle in")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--threads", f->server.threads, "Server threads")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("-j,--jobs", f->jobs, "Parallel hashing while verifying")->capture_default_str()->check(CLI::Range(1, 64));
  cli::add_output_flags(cmd, f->out);
  cmd->callback([f] { run_serve(*f); });
}

}  // namespace sealift::installer
