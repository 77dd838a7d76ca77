"""A small multilingual training text for the synthetic vocabularies (see synthetic.py).

Written for this project: English, Russian, Chinese prose, chat turns and some Python/C code, so
that a vocabulary trained on it splits real text into meaningful pieces.
"""
from __future__ import annotations

ENGLISH = """\
Every device has a CPU. Phones, laptops, servers and small boards all have one, and most of them
are idle most of the time. Private AI on the CPU you already have means that your messages, your
voice notes and your documents never leave the machine. The model reads the text, thinks, and
answers on the device itself.
The limit is memory bandwidth, not compute. A model with seven billion parameters stored at four
bits per weight is about three and a half gigabytes, and every generated token reads all of it.
That is why small models with one to three billion parameters are the trend: they are fast enough
for a voice assistant, which needs only ten to twelve tokens per second, the speed of speech.
What is the capital of France? Paris. What is a famous landmark there? The Eiffel Tower.
What is the temperature there right now? That needs the internet, so the assistant asks first.
You come back from a meeting and there are hundreds of new messages in the group chat. Ask for
the main points, then check each point against the original messages before you act on it.
A voice message arrives while you are on the train. The phone transcribes it, writes three short
bullet points, and keeps the transcript at hand so that you can verify every point yourself.
The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore.
I'm sure they'll say it's fine, but we've seen what they'd done and you're right to ask.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 256 1024 2048 4096 3.14159 2026-11-28 12:30 99.5%
"""

RUSSIAN = """\
У каждого устройства есть процессор. Телефоны, ноутбуки, серверы и маленькие платы: у всех он
есть, и большую часть времени он простаивает. Частный искусственный интеллект на вашем процессоре
означает, что ваши сообщения, голосовые заметки и документы никогда не покидают устройство.
Предел скорости задаёт пропускная способность памяти, а не вычисления. Модель с семью
миллиардами параметров при четырёх битах на вес занимает около трёх с половиной гигабайт, и
каждый новый токен читает её целиком. Поэтому в моде маленькие модели: их хватает для голосового
помощника, которому нужно всего десять или двенадцать токенов в секунду, то есть скорость речи.
Какая столица Франции? Париж. Какая там известная достопримечательность? Эйфелева башня.
Вы возвращаетесь со встречи, а в групповом чате сотни новых сообщений. Попросите главное, а потом
проверьте каждый пункт по исходным сообщениям. Съешь же ещё этих мягких французских булок, да
выпей чаю. Привет! Как дела? Спасибо, хорошо. Расшифровка остаётся под рукой.
"""

CHINESE = """\
每一台设备都有处理器。手机、笔记本电脑、服务器和小型开发板都有，而且大部分时间都处于空闲状态。
在你已有的处理器上运行私有人工智能，意味着你的消息、语音笔记和文档永远不会离开这台机器。
速度的上限是内存带宽，而不是计算能力。一个七十亿参数的模型，每个权重四位，大约需要三点五千兆字节，
每生成一个词元都要把它完整地读一遍。所以小模型越来越流行：语音助手每秒只需要十到十二个词元，
也就是说话的速度。法国的首都是哪里？巴黎。那里有什么著名的地标？埃菲尔铁塔。
你开完会回来，群聊里有几百条新消息。先让助手总结要点，再对照原始消息逐条确认。你好！谢谢，很好。
"""

CHAT = """\
user: Can you summarize the voice note from Anna?
assistant: Sure. Anna says the meeting moved to Thursday at 10:00, she needs the report by
Wednesday evening, and she will bring the new prototype.
user: Что сказал Борис в чате?
assistant: Борис предлагает перенести встречу на пятницу и просит всех подтвердить время.
user: 请总结一下今天的群聊。
assistant: 今天大家讨论了发布计划：周三冻结代码，周四测试，周五发布。
"""

CODE = '''\
def tokenize(text: str, add_special: bool = True) -> list[int]:
    """Split the text into token ids."""
    ids = []
    if add_special and self.bos_id is not None:
        ids.append(self.bos_id)
    for word in text.split():
        ids.extend(self.vocab.get(word, [self.unk_id]))
    return ids


class KVCache:
    def __init__(self, n_layers, n_ctx, n_heads, head_dim):
        self.k = np.zeros((n_layers, n_heads, n_ctx, head_dim), dtype=np.float32)
        self.v = np.zeros_like(self.k)
        self.n = 0

for i in range(10):
    print(f"step {i}: loss={loss:.4f}")

static inline float dot_q8(const int8_t *a, const int8_t *b, int n, float scale) {
    int32_t acc = 0;
    for (int i = 0; i < n; i++) {
        acc += (int32_t)a[i] * (int32_t)b[i];
    }
    return scale * (float)acc;
}

if (x->ne[0] % 32 != 0) { return -1; }
{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}
'''

CORPUS = "\n".join([ENGLISH, RUSSIAN, CHINESE, CHAT, CODE])
