"""tensorgrad's speed machinery, apart from the math: its own threads for the big ops
(:mod:`~tensorgrad.speed.parallel`) and glibc's allocator told to keep freed memory
(:mod:`~tensorgrad.speed.memory`). Nothing here changes a result; each file says what it buys,
with the measurement."""
