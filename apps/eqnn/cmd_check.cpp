// eqnn check: the exact equivariance self-check of every layer for every group.
#include <torch/torch.h>

#include <unistd.h>
#include <chrono>
#include <iomanip>
#include <iostream>

#include "arg_checks.h"
#include "commands.h"
#include "device_arg.h"
#include "eqnn/eqnn.h"
#include "table.h"

namespace eqnn_cli {

Command add_check_command(CLI::App& app) {
  struct Args {
    std::vector<std::string> groups = {"c1", "c2", "c4", "d1", "d2", "d4"};
    std::vector<std::string> dtypes = {"float32", "float64"};
    std::vector<int64_t> sizes = {9, 8};
    uint64_t seed = 0;
    bool verbose = false;
    std::string device = "cpu";
  };
  auto args = std::make_shared<Args>();
  CLI::App* sub = app.add_subcommand(
      "check",
      "Check every layer for every group on every element, in float32 and float64, with odd "
      "and even input sizes; exits non-zero on any failure");
  sub->add_option("-g,--groups", args->groups, "Groups: c1 c2 c4 (p4) d1 d2 d4 (p4m)")
      ->capture_default_str()
      ->check(group_name());
  sub->add_option("-t,--dtypes", args->dtypes, "float32 and/or float64")
      ->check(CLI::IsMember({"float32", "float64"}))
      ->capture_default_str();
  sub->add_option("-s,--sizes", args->sizes, "Input sizes (height = width)")
      ->check(integer_in(2, 4096))
      ->capture_default_str();
  sub->add_option("--seed", args->seed, "Random seed")->capture_default_str()->check(integer_in(0));
  sub->add_flag("-v,--verbose", args->verbose, "Print the per-element report of every check");
  add_device_option(sub, args->device);

  return [args] {
    eqnn::SelfCheckOptions options;
    options.device = parse_device(args->device, "eqnn check");
    options.groups.clear();
    for (const auto& name : args->groups)
      options.groups.push_back(eqnn::Group::from_name(name));
    options.dtypes.clear();
    for (const auto& name : args->dtypes)
      options.dtypes.push_back(name == "float64" ? torch::kDouble : torch::kFloat);
    options.sizes = args->sizes;
    options.seed = args->seed;

    // One count throughout: layer configurations (group x layer), each run in every dtype and
    // size; the progress counter goes over the runs.
    const size_t configurations = options.groups.size() * eqnn::self_check_layers().size();
    const size_t total = configurations * options.dtypes.size();
    std::cout << "eqnn " << EQNN_VERSION_STRING << " check: " << configurations
              << " layer configurations x " << options.dtypes.size() << " dtypes x sizes {";
    for (size_t i = 0; i < options.sizes.size(); ++i)
      std::cout << (i ? ", " : "") << options.sizes[i];
    std::cout << "}, every group element, " << at::get_num_threads() << " threads\n" << std::flush;

    const auto start = std::chrono::steady_clock::now();
    size_t done = 0;
    const bool tty = isatty(fileno(stderr));
    const auto results = eqnn::run_self_check(options, [&](const eqnn::SelfCheckResult& r) {
      ++done;
      if (tty)
        std::cerr << "\r  [" << done << "/" << total << "] " << r.group << " " << r.layer
                  << "\033[K" << std::flush;
      if (args->verbose) std::cout << r.group << " " << r.layer << ":\n" << r.worst.str();
    });
    if (tty) std::cerr << "\r\033[K";

    // one row per (group, layer), dtypes side by side
    std::vector<std::string> header = {"group", "layer"};
    for (const auto& dt : args->dtypes) {
      header.push_back(dt + " worst");
      header.push_back(dt + " error");
    }
    header.push_back("result");
    Table table(header);
    size_t failures = 0;
    double worst[2] = {0, 0};
    for (size_t i = 0; i < results.size(); i += options.dtypes.size()) {
      std::vector<std::string> row = {results[i].group, results[i].layer};
      bool ok = true;
      for (size_t d = 0; d < options.dtypes.size(); ++d) {
        const auto& r = results[i + d];
        row.push_back(r.worst.worst_element() + " @" + std::to_string(r.worst_size));
        row.push_back(format_scientific(r.worst.max_error()));
        ok = ok && r.worst.passed();
        double& w = worst[r.dtype == torch::kDouble ? 1 : 0];
        w = std::max(w, r.worst.max_error());
        if (!r.worst.passed()) std::cerr << r.group << " " << r.layer << ":\n" << r.worst.str();
      }
      failures += ok ? 0 : 1;
      row.push_back(ok ? "pass" : "FAIL");
      table.add_row(row);
    }
    table.print(std::cout);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout
        << "\nerror = max |f(g.x) - g.f(x)| / max(1, max |f(x)|) over all elements and sizes; "
           "tolerances: float32 1e-5 (layer) / 1e-4 (network), float64 1e-10\n";
    std::cout << "worst error: float32 " << format_scientific(worst[0]) << ", float64 "
              << format_scientific(worst[1]) << "\n";
    std::cout << (failures ? "FAILED: " : "all passed: ") << configurations - failures << " of "
              << configurations << " layer configurations in " << std::fixed << std::setprecision(1)
              << seconds << " s\n";
    return failures ? 1 : 0;
  };
}

}  // namespace eqnn_cli
