"""The trusted grader: runs as root, starts each notebook in a kernel as the student user,
calls the student's functions through the kernel server, scores them with the hidden tests and
writes Gradescope's ``results.json``. Never shipped to students, never imported by their kernel."""
