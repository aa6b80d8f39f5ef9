"""Generate the shipped offline sentiment dataset (short, movie-review-like texts).

Deterministic: `python data/sentiment/generate.py` rewrites train.jsonl and test.jsonl.
The held-out split uses film titles and settings that never appear in train, and no text
appears in both splits.
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
ASPECTS = ["acting", "script", "soundtrack", "camera work", "pacing", "ending", "dialogue",
           "lead performance", "editing", "story", "direction", "cast", "visual effects"]
POSITIVE = ["wonderful", "moving", "brilliant", "sharp", "gorgeous", "gripping", "charming",
            "superb", "heartfelt", "clever", "memorable", "delightful", "powerful", "fresh"]
NEGATIVE = ["dull", "clumsy", "tedious", "flat", "lifeless", "confusing", "predictable",
            "awful", "forgettable", "wooden", "messy", "boring", "shallow", "painful"]
POSITIVE_VERDICTS = [
    "I would happily watch it again.", "Easily one of the best films this year.",
    "Go see it on the biggest screen you can find.", "It earned every minute of my time.",
    "I left the theater smiling.", "A real treat from start to finish.",
    "Highly recommended.", "I was not bored for a second.", "It is not perfect, but it is great.",
]
NEGATIVE_VERDICTS = [
    "I want those two hours back.", "Skip it.", "I nearly walked out halfway through.",
    "Not worth the ticket price.", "A waste of a good cast.", "I could not wait for it to end.",
    "Avoid this one.", "It never comes together.", "Not even the ending could save it.",
]
NEUTRAL = [
    "The film follows a family that moves to {place}.",
    "It is set in {place} during a long winter.",
    "The story centres on two friends who open a bakery in {place}.",
    "A detective returns to {place} to solve one last case.",
    "{title} runs a little over two hours.",
    "The director's previous film was also set in {place}.",
]
SPLITS = {
    "train": {"size": 400, "seed": 13,
              "titles": ["The Long Road", "Silver Harbor", "Night Train", "Paper Moons",
                         "Glass Houses", "The Last Summer", "Iron Bridge", "Cold Water"],
              "places": ["Lisbon", "a small fishing town", "Chicago", "the Scottish highlands",
                         "Osaka", "a desert outpost"]},
    "test": {"size": 100, "seed": 29,
             "titles": ["Blue Lanterns", "The Quiet Field", "Northern Lights", "Salt and Ash"],
             "places": ["Montreal", "a mountain village", "Marseille"]},
}


def review(rng: random.Random, positive: bool, titles: list[str], places: list[str]) -> str:
    good, bad = (POSITIVE, NEGATIVE) if positive else (NEGATIVE, POSITIVE)
    title, place = rng.choice(titles), rng.choice(places)
    sentences = [rng.choice(NEUTRAL).format(title=title, place=place)]
    for aspect in rng.sample(ASPECTS, rng.randint(1, 3)):
        sentences.append(f"The {aspect} is {rng.choice(['', 'really ', 'truly ', 'quite '])}"
                         f"{rng.choice(good)}.")
    if rng.random() < 0.4:  # one contrary detail keeps the task from being a keyword lookup
        sentences.append(f"Only the {rng.choice(ASPECTS)} feels {rng.choice(bad)}.")
    rng.shuffle(sentences)
    sentences.insert(0, f"{title}:")
    sentences.append(rng.choice(POSITIVE_VERDICTS if positive else NEGATIVE_VERDICTS))
    return " ".join(sentences)


def main() -> None:
    seen: set[str] = set()
    for split, spec in SPLITS.items():
        rng = random.Random(spec["seed"])
        rows = []
        while len(rows) < spec["size"]:
            positive = len(rows) % 2 == 0
            text = review(rng, positive, spec["titles"], spec["places"])
            if text not in seen:
                seen.add(text)
                rows.append({"text": text, "label": "POSITIVE" if positive else "NEGATIVE"})
        rng.shuffle(rows)
        with open(HERE / f"{split}.jsonl", "w") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)


if __name__ == "__main__":
    main()
