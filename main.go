// Command bestbefore is a load tester and capacity planner.
package main

import (
	"os"

	"github.com/bestbefore/bestbefore/cmd"
)

func main() { os.Exit(cmd.Main()) }
