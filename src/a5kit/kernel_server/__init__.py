"""The kernel server: the half of the grader that runs inside the student's kernel (as the student
user). It answers the trusted grader's requests in plain data and decides nothing."""
