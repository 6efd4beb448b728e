"""Run the torch tests of this folder single-threaded.

CI runs pytest with 2 workers on 2 cores: two intra-op threads per worker oversubscribe the machine, and
OpenMP's barriers then make small convolutions many times slower. Restored after the module.
"""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _single_thread_torch():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
