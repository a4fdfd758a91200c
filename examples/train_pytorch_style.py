"""Train an MLP on the embedded MNIST sample the PyTorch way: nn.Module, DataLoader, optim.

Run:  python examples/train_pytorch_style.py
"""

import tensorgrad as tg
import tensorgrad.nn.functional as F
from tensorgrad import nn, optim
from tensorgrad.data import DataLoader, load_mnist_sample, normalize


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


tg.manual_seed(0)
x_train, y_train, x_test, y_test = load_mnist_sample()
x_train, x_test = normalize(x_train, flatten=True), normalize(x_test, flatten=True)
model = MLP()
print(model)
optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
loader = DataLoader(x_train, y_train, batch_size=64, shuffle=True, seed=0)

for epoch in range(1, 4):
    model.train()
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
    model.eval()
    with tg.no_grad():
        accuracy = (model(x_test).argmax(axis=1).data == y_test).mean()
    print(f"epoch {epoch}: last batch loss {loss.item():.4f}, test accuracy {accuracy:.4f}")
