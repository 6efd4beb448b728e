"""evflow: self-supervised optical flow from event cameras.

Subpackages (imports point downward only: cli -> flow -> data/core/preprocessing -> io):

* :mod:`evflow.io` -- event dtype, readers/writers for DAT, RAW EVT2/2.1/3, HDF5, npy; ``EventsIterator``.
* :mod:`evflow.preprocessing` -- event-to-tensor kernels and their registry.
* :mod:`evflow.synth` -- synthetic recordings with exact ground-truth flow.
* :mod:`evflow.data` -- HDF5 tensor files, flow labels, sequential loaders.
* :mod:`evflow.core` -- torch building blocks (recurrent cells, warping, pyramid).
* :mod:`evflow.flow` -- flow networks, losses, Lightning model, visualisation.
"""

__version__ = "0.1.0"
