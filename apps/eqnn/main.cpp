// eqnn: the command-line program (a thin shell over the library; the program itself is
// eqnn_cli::run, which tests call in process).
#include "cli.h"

int main(int argc, char** argv) {
  eqnn_cli::install_interrupt_handler();
  return eqnn_cli::run(argc, argv);
}
