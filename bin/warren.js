#!/usr/bin/env node
// Entry point for the `warren` command: runs the compiled CLI from dist/.
import '../dist/cli/main.js';
