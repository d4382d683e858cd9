"The tests import tools/torchvision_ref.py, the torchvision reference they share with bench/"
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'tools'))
