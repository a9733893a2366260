"""Forms of the survey builder: the survey's own settings, and one form per question in a
formset. They check shapes only (a number is a number, one choice per line);
``survey_save`` decides what makes a valid survey, for these pages as for the API.

The builder works without JavaScript: "Add question", "Move up", "Move down" and "Remove"
are submit buttons that re-render the page with the rows rearranged
(``question_rows_rearrange``); nothing is saved until "Save survey".
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from core.numbers import small_int
from messaging.models import Survey, SurveyQuestion
from messaging.surveys import END, MAX_QUESTIONS

Kind = SurveyQuestion.Kind
KIND_CHOICES = [(Kind.CHOICE, "Choice from a list"), (Kind.YES_NO, "Yes or no"),
                (Kind.NUMBER, "Number"), (Kind.TEXT, "Free text")]
# The settings each kind uses; the page hides the others (static/css/portal.css).
SETTINGS = {
    Kind.CHOICE: {"choices", "branching"},
    Kind.YES_NO: {"branching"},
    Kind.NUMBER: {"min_value", "max_value"},
    Kind.TEXT: set(),
}
EMPTY_SETTINGS: dict[str, Any] = {"choices": [], "min_value": None, "max_value": None,
                                  "branching": {}}
# As the API takes them (messaging.api.serializers).
MAX_CHOICE_LENGTH = 160
MAX_TEXT_LENGTH = 1600


class SurveyForm(forms.Form):
    name = forms.CharField(max_length=200)
    intro = forms.CharField(
        required=False, max_length=MAX_TEXT_LENGTH, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Sent with the first question, e.g. who is asking and why.")
    closing_message = forms.CharField(
        required=False, max_length=MAX_TEXT_LENGTH, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Sent after the last answer; empty: nothing is sent.")
    active = forms.BooleanField(
        required=False, initial=True,
        help_text="Only active surveys can be started; inactive ones keep their results.")
    max_reask = forms.IntegerField(
        label="Ask again after an invalid answer", initial=2,
        help_text="Times (0 to 5) a question is asked again, with a hint, before the survey "
                  "moves on without its answer.")
    expire_after_minutes = forms.IntegerField(
        label="Abandoned after (minutes)", initial=1440,
        help_text="With no answer for this long, the survey ends and the next message is a "
                  "message again; 1440 is a day.")

    @classmethod
    def initial_of(cls, survey: Survey) -> dict[str, Any]:
        return {name: getattr(survey, name) for name in cls.base_fields}


class QuestionForm(forms.Form):
    kind = forms.ChoiceField(choices=KIND_CHOICES, initial=Kind.TEXT,
                             widget=forms.Select(attrs={"class": "question-kind"}))
    text = forms.CharField(label="Question", max_length=1000,
                           widget=forms.Textarea(attrs={"rows": 2}))
    choices = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, 2 to 20; people answer with its number or its text.")
    min_value = forms.FloatField(label="Lowest answer", required=False,
                                 help_text="Empty: no limit.")
    max_value = forms.FloatField(label="Highest answer", required=False,
                                 help_text="Empty: no limit.")
    branching = forms.CharField(
        label="Skip ahead", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text='One line per answer that skips ahead: "yes: 4" goes on to question 4, '
                  '"no: end" ends the survey. Other answers go on to the next question.')

    def clean_choices(self) -> list[str]:
        choices = [line.strip() for line in self.cleaned_data["choices"].splitlines()
                   if line.strip()]
        for choice in choices:
            if len(choice) > MAX_CHOICE_LENGTH:
                raise ValidationError(
                    f"Keep each choice to {MAX_CHOICE_LENGTH} characters: {choice[:20]}…")
        return choices

    def clean_branching(self) -> dict[str, int | str]:
        return branching_parse(self.cleaned_data["branching"])

    def clean(self) -> dict[str, Any]:
        # A setting the kind does not use is hidden on the page and left over from another
        # kind: it is not sent, and cannot refuse the survey.
        kind = self.cleaned_data.get("kind")
        if kind in SETTINGS:
            for name, empty in EMPTY_SETTINGS.items():
                if name not in SETTINGS[kind]:
                    self.errors.pop(name, None)
                    self.cleaned_data[name] = empty
        return self.cleaned_data

    @staticmethod
    def initial_of(question: SurveyQuestion) -> dict[str, Any]:
        return {"kind": question.kind, "text": question.text,
                "choices": "\n".join(question.choices),
                "min_value": _plain(question.min_value), "max_value": _plain(question.max_value),
                "branching": branching_format(question.branching)}


def _plain(number: float | None) -> float | int | None:
    """0.0 shows as 0, as it was typed."""
    return int(number) if number is not None and number.is_integer() else number


QUESTIONS_PREFIX = "questions"
QuestionFormSet = forms.formset_factory(QuestionForm, extra=0, max_num=MAX_QUESTIONS,
                                        validate_max=True, absolute_max=MAX_QUESTIONS)


def question_formset(data: dict | None = None, *,
                     initial: list[dict[str, Any]] | None = None) -> forms.BaseFormSet:
    """The questions' formset. Every row is a question, blank ones included: rows are
    numbered on the page, and skip-ahead lines name those numbers."""
    return QuestionFormSet(data, initial=initial, prefix=QUESTIONS_PREFIX,
                           form_kwargs={"empty_permitted": False,
                                        "use_required_attribute": False})


def branching_parse(text: str) -> dict[str, int | str]:
    """'yes: 4' and 'no: end' lines as the service takes them ({"yes": 4, "no": "end"});
    whether the answers and questions exist is for ``survey_save`` to say."""
    branching: dict[str, int | str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        answer, colon, target = (part.strip() for part in line.rpartition(":"))
        number = small_int(target)
        if not colon or not answer or not (number is not None or target.lower() == END):
            raise ValidationError(f'Write "answer: question number" or "answer: end", '
                                  f"not {line.strip()!r}.")
        if answer in branching:
            raise ValidationError(f"{answer!r} is listed twice.")
        branching[answer] = number if number is not None else END
    return branching


def branching_format(branching: dict[str, int | str]) -> str:
    return "\n".join(f"{answer}: {target}" for answer, target in branching.items())


def question_rows(formset: forms.BaseFormSet) -> list[dict[str, Any]]:
    """What each row holds as submitted, invalid values included, so that rearranging the
    rows keeps what was typed."""
    return [{name: form[name].value() for name in form.fields} for form in formset]


def question_rows_rearrange(rows: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    """The rows after ``action``: "add", or "up:<i>", "down:<i>", "remove:<i>" for row i
    (from 0). Skip-ahead lines keep pointing at the same questions under their new numbers;
    one that pointed at a removed question points at the question that followed it, or the
    end. An action that does not apply (moving the first row up) changes nothing."""
    verb, _, index_text = action.partition(":")
    order: list[int | None] = list(range(len(rows)))
    index = small_int(index_text)
    index = -1 if index is None else index
    if verb == "add" and len(rows) < MAX_QUESTIONS:
        order.append(None)
    elif verb == "up" and 0 < index < len(rows):
        order[index - 1], order[index] = order[index], order[index - 1]
    elif verb == "down" and 0 <= index < len(rows) - 1:
        order[index], order[index + 1] = order[index + 1], order[index]
    elif verb == "remove" and 0 <= index < len(rows):
        del order[index]
    new_position = {old + 1: new for new, old in enumerate(order, start=1) if old is not None}
    renumbered: dict[int, int | str] = {
        old: next((new_position[later] for later in range(old, len(rows) + 1)
                   if later in new_position), END)
        for old in range(1, len(rows) + 1)
    }
    rearranged = []
    for old in order:
        if old is None:
            rearranged.append({"kind": Kind.TEXT})
            continue
        row = dict(rows[old])
        try:
            branching = branching_parse(row.get("branching") or "")
        except ValidationError:
            pass  # shown as typed; saving says what is wrong with it
        else:
            row["branching"] = branching_format({
                answer: renumbered.get(target, target) if isinstance(target, int) else target
                for answer, target in branching.items()})
        rearranged.append(row)
    return rearranged
